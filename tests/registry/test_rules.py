"""Registry rules that need no running service: business IDs, reference data, event payloads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry import reference
from registry.events.projects import project_state as event_state
from registry.models import Project
from registry.projects.schemas import ProjectCreate
from registry.validators import business_id_check_digit, check_business_id
from shared.contracts import registry as contracts


@pytest.mark.parametrize(("bid", "ok"), [
    ("0245437-2", True),    # a real business ID
    ("1572860-0", True),    # remainder 0 -> check digit 0
    ("0245437-3", False),   # wrong check digit
    ("245437-2", False),    # six digits
    ("02454372", False),    # no hyphen
])
def test_business_id_check_digit(bid, ok):
    if ok:
        assert check_business_id(bid) == bid
    else:
        with pytest.raises(ValueError):
            check_business_id(bid)


def test_business_id_remainder_one_has_no_valid_check_digit():
    # Find seven digits whose weighted sum leaves remainder 1: no check digit is valid for them.
    weights = (7, 9, 10, 5, 8, 4, 2)
    first7 = next(f"{n:07d}" for n in range(1000, 100000)
                  if sum(int(d) * w for d, w in zip(f"{n:07d}", weights, strict=True)) % 11 == 1)
    assert business_id_check_digit(first7) is None
    for digit in range(10):
        with pytest.raises(ValueError):
            check_business_id(f"{first7}-{digit}")


def test_reference_data_is_shipped():
    codes = reference.codes("regions")
    assert len(codes) == 19 and "03" not in codes and "20" not in codes and "21" in codes
    assert reference.label("regions", "06", "sv") == "Birkaland"
    evk = [a for a in reference.funding_authorities() if a["kind"] == "elinvoimakeskus"]
    ely = [a for a in reference.funding_authorities() if a["kind"] == "ely"]
    assert len(evk) == 10 and len(ely) == 15
    covered = {r for a in evk if a["structural_funds"] for r in a["regions"]}
    assert covered == codes - {"21"}  # the four funding centres cover mainland Finland


def test_partner_that_is_the_lead_is_refused():
    with pytest.raises(ValueError, match="lead implementer"):
        ProjectCreate.model_validate({"code": "X1", "name": {"fi": "x"}, "organisation_id": "o1",
                                      "partners": [{"organisation_id": "o1", "role": "partner"}]})


def test_project_event_state_validates_against_contract():
    p = Project(id="p1", version=2, code="S1", name={"fi": "Hanke"}, status="active",
                start_date=dt.date(2024, 1, 1), end_date=None, organisation_id="o1",
                funder_id="f1", region_codes=["01"], theme_id="t1", programme_id=None,
                call_id=None, target_groups=["companies"], sub_themes=["wellbeing"],
                budget_total=Decimal("100.10"), published=True, archived=False)
    state = event_state(p, ["o2"])
    parsed = contracts.ProjectUpdatedV1.model_validate({**state, "changed_fields": ["status"]})
    assert parsed.budget_total == "100.10" and parsed.partner_ids == ["o2"]


def test_project_state_is_the_same_from_a_project_and_from_an_import_record():
    """The service (a Project) and the bulk import (a row record) build one payload, key for key
    and in the same order (the outbox stores the JSON as built)."""
    fields = {"id": "p1", "version": 3, "code": "S2", "name": {"fi": "Hanke", "sv": "Projekt"},
              "status": "planned", "start_date": dt.date(2024, 1, 1),
              "end_date": dt.date(2025, 1, 1), "organisation_id": "o1", "funder_id": None,
              "region_codes": ["01", "02"], "theme_id": "t1", "programme_id": "pr",
              "call_id": None, "target_groups": [], "sub_themes": None,
              "budget_total": Decimal("5.00"), "published": False, "archived": False}
    from_project = event_state(Project(**fields), ["o3", "o2"], "ESO4.7")
    from_record = event_state(fields, ["o3", "o2"], "ESO4.7")
    assert list(from_project.items()) == list(from_record.items())
    assert set(from_record) == set(contracts.ProjectState.model_fields)
    assert contracts.ProjectState.model_validate(from_record).partner_ids == ["o2", "o3"]
