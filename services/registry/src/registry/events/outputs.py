"""Payloads of project_output.* and lesson.* events (shared/contracts/coordination.py)."""

from __future__ import annotations

from typing import Any

from registry.changes.history import jsonable
from registry.models import Lesson, Project, ProjectOutput

OUTPUT_FIELDS = ("kind", "title", "language", "url", "date", "description")
LESSON_FIELDS = ("kind", "text", "audience", "topic")


def _base(row: ProjectOutput | Lesson, project: Project) -> dict[str, Any]:
    return {"id": row.id, "version": row.version, "project_id": project.id,
            "theme_id": project.theme_id}


def output_state(o: ProjectOutput, project: Project) -> dict[str, Any]:
    return jsonable({**_base(o, project), **{f: getattr(o, f) for f in OUTPUT_FIELDS},
                     "project_published": bool(project.published)})


def lesson_state(lesson: Lesson, project: Project) -> dict[str, Any]:
    return jsonable({**_base(lesson, project), **{f: getattr(lesson, f) for f in LESSON_FIELDS},
                     "project_published": bool(project.published)})


def updated(state: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    return {**state, "changed_fields": changed}


def removed(row: ProjectOutput | Lesson, project: Project) -> dict[str, Any]:
    return _base(row, project)
