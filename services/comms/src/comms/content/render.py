"""Markdown to sanitised HTML (markdown-it-py, then nh3 keeps only safe tags and URLs)."""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "h1", "h2", "h3", "h4", "blockquote",
         "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td", "img"}
_ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}


def to_html(markdown: str) -> str:
    return nh3.clean(_md.render(markdown), tags=_TAGS, attributes=_ATTRS,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def render_all(body: dict[str, Any]) -> dict[str, str]:
    return {lang: to_html(text) for lang, text in body.items() if text}
