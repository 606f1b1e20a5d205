"""The regions file: the bundled one loads, and every mistake is named by file, region and field."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chatops.config import BUNDLED_REGIONS, config_problems, load_regions, parse_regions
from chatops.domain.models import RegionsConfig, zone_of
from chatops.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "iran-2009.toml"
IRAN = '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\n'
IRAN_PEAK = IRAN + 'peak_hours = ["08:00-23:00"]\n'


def test_the_bundled_regions_load_and_none_is_sensitive() -> None:
    config = load_regions()
    assert load_regions(BUNDLED_REGIONS) == config
    assert len(config.regions) >= 30
    assert not any(r.sensitive or r.sensitive_periods for r in config.regions)
    assert all(r.peak_hours for r in config.regions)
    for region in config.regions:
        zone_of(region.timezone)
    assert (config.policy.horizon_days, config.policy.max_window_days) == (14, 7)


def test_the_example_file_loads_with_its_team_and_sensitive_period() -> None:
    config = load_regions(EXAMPLE)
    assert [r.id for r in config.regions] == ["ir", "us-west"]
    assert config.team is not None and config.team.timezone == "America/Los_Angeles"
    (period,) = config.regions[0].sensitive_periods
    assert (str(period.start), str(period.end), period.reason) == (
        "2009-06-12",
        "2009-06-30",
        "Presidential election protests",
    )


@pytest.mark.parametrize(
    ("case", "text", "message"),
    [
        (
            "bad zone",
            IRAN.replace("Asia/Tehran", "Asia/Teheran"),
            "r.toml: region 'ir' (regions[0]), field timezone: unknown time zone 'Asia/Teheran' "
            "(use an IANA name such as 'Europe/Berlin' or 'UTC')",
        ),
        (
            "bad peak range",
            IRAN + 'peak_hours = ["08:00-23:00", "25:00-26:00"]\n',
            "r.toml: region 'ir' (regions[0]), field peak_hours: '25:00' is not a time of day "
            "(00:00 to 23:59)",
        ),
        (
            "peak hours not a list",
            IRAN + 'peak_hours = "08:00-23:00"\n',
            "r.toml: region 'ir' (regions[0]), field peak_hours: expected a list of ranges, "
            'e.g. ["08:00-23:00"]',
        ),
        (
            "unknown field",
            IRAN + 'peak_hour = ["08:00-23:00"]\n',
            "r.toml: region 'ir' (regions[0]), field peak_hour: unknown field (check its spelling)",
        ),
        (
            "missing id",
            IRAN.replace('id = "ir"\n', ""),
            "r.toml: regions[0], field id: required field is missing",
        ),
        (
            "duplicate id",
            IRAN + IRAN.replace('"Iran"', '"Iran again"'),
            "r.toml: region 'ir' (regions[1]), field id: region id 'ir' is used twice (first by regions[0] at "
            "line 2)",
        ),
        (
            "end before start",
            IRAN_PEAK + '[[regions.sensitive_periods]]\nstart = 2009-06-30\nend = 2009-06-12\nreason = "x"\n',
            "r.toml: region 'ir' (regions[0]), field sensitive_periods[0]: "
            "end 2009-06-12 is before start 2009-06-30",
        ),
        (
            "a date and time for a date",
            IRAN_PEAK
            + '[[regions.sensitive_periods]]\nstart = 2009-06-12T00:00:00\nend = 2009-06-30\nreason = "x"\n',
            "r.toml: region 'ir' (regions[0]), field sensitive_periods[0].start: expected a date such as "
            "2009-06-12, not a date and time",
        ),
        (
            "unknown policy field",
            "[policy]\nhorizon = 3\n" + IRAN,
            "r.toml: field policy.horizon: unknown field (check its spelling)",
        ),
        (
            "bad team hours",
            '[team]\ntimezone = "America/Los_Angeles"\nworking_hours = ["9-5"]\n' + IRAN,
            "r.toml: field team.working_hours: '9-5' is not an hours range",
        ),
        ("no regions", "[policy]\nhorizon_days = 3\n", "r.toml: field regions: required field is missing"),
        (
            "invalid TOML",
            '[[regions]\nid = "ir"\n',
            "r.toml: not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 10)",
        ),
    ],
)
def test_a_bad_regions_file_is_one_line_naming_the_file_region_and_field(
    case: str, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_regions(text, source="r.toml")
    assert str(info.value).startswith(message), case
    assert "\n" not in str(info.value)
    if "more problem" not in message:
        assert "more problem" not in str(info.value), "one mistake is one problem"


def test_several_problems_are_counted_and_each_is_a_line() -> None:
    text = (
        "[policy]\nhorizon_days = 0\n"
        '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Teheran"\npeak_hours = ["25:00-26:00"]\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_regions(text, source="r.toml")
    assert str(info.value) == (
        "r.toml: field policy.horizon_days: must be at least 1 (not 0) (and 2 more problems)"
    )
    data = tomllib.loads(text)
    with pytest.raises(ValidationError) as raw:
        RegionsConfig.model_validate(data)
    assert config_problems(raw.value, data) == [
        "field policy.horizon_days: must be at least 1 (not 0)",
        "region 'ir' (regions[0]), field timezone: unknown time zone 'Asia/Teheran' "
        "(use an IANA name such as 'Europe/Berlin' or 'UTC')",
        "region 'ir' (regions[0]), field peak_hours: '25:00' is not a time of day (00:00 to 23:59)",
    ]


def test_two_problems_say_one_more() -> None:
    text = IRAN.replace("Asia/Tehran", "Nowhere") + IRAN.replace('"ir"', '"ir2"').replace("Iran", "")
    with pytest.raises(
        ConfigError, match=r"field timezone: unknown time zone 'Nowhere'.* \(and 1 more problem\)$"
    ):
        parse_regions(text, source="r.toml")


def test_a_missing_file_and_a_directory_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_regions(missing)
    assert str(info.value) == f"{missing}: no such file"
    with pytest.raises(ConfigError) as info:
        load_regions(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a regions file"


def test_a_file_error_names_the_path_given(tmp_path: Path) -> None:
    path = tmp_path / "regions.toml"
    path.write_text(IRAN.replace("Asia/Tehran", "Asia/Teheran"), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(path))}: region 'ir' \(regions\[0\]\), field timezone: "
    ):
        load_regions(path)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: cannot be read \(UnicodeDecodeError"):
        load_regions(str(path))


# -- chatops config validate -------------------------------------------------------------------------------

MANY_PROBLEMS = """\
# a regions file with a mistake in almost every table
[policy]
approvals_required = 0
horizon_days = 14

[team]
timezone = "America/Los_Angles"

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Teheran"
peak_hours = ["08:00-23:00"]

[[regions.sensitive_periods]]
start = 2009-06-12
end = 2009-06-30
reason = "Presidential election protests"

[[regions.sensitive_periods]]
start = 2009-07-12
end = 2009-06-30
reason = "backwards"

[[regions]]
id = "us-west"
timezone = "America/Los_Angeles"
peak_hours = ["mon-fri 07:00-23:00", "25:00-26:00"]
colour = "red"
"""


def _validate(tmp_path: Path, text: str | None, *args: str) -> tuple[int, str, str, str]:
    import io

    from chatops.cli import main

    path = tmp_path / "regions.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["config", "validate", *(args or (str(path),))], out=out, err=err)
    return code, out.getvalue(), err.getvalue(), str(path)


def test_validate_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    code, out, err, path = _validate(tmp_path, MANY_PROBLEMS)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}:3: field policy.approvals_required: must be at least 1 (not 0)",
        f"{path}:7: field team.timezone: unknown time zone 'America/Los_Angles' "
        "(use an IANA name such as 'Europe/Berlin' or 'UTC')",
        f"{path}:12: region 'ir' (regions[0]), field timezone: unknown time zone 'Asia/Teheran' "
        "(use an IANA name such as 'Europe/Berlin' or 'UTC')",
        f"{path}:20: region 'ir' (regions[0]), field sensitive_periods[1]: "
        "end 2009-06-30 is before start 2009-07-12",
        f"{path}:25: region 'us-west' (regions[1]), field name: required field is missing",
        f"{path}:28: region 'us-west' (regions[1]), field peak_hours: "
        "'25:00' is not a time of day (00:00 to 23:59)",
        f"{path}:29: region 'us-west' (regions[1]), field colour: unknown field (check its spelling)",
        f"{path}: 7 problems",
    ]


def test_validate_points_at_a_toml_syntax_error(tmp_path: Path) -> None:
    code, _, err, path = _validate(tmp_path, IRAN + 'peak_hours = ["08:00-23:00"\nsensitive = true\n')
    assert code == 2
    first = err.splitlines()[0]
    assert re.match(re.escape(path) + r":6: not valid TOML: ", first), first


def test_validate_says_ok_with_a_summary(tmp_path: Path) -> None:
    code, out, err, _ = _validate(tmp_path, None, str(EXAMPLE))
    assert (code, err) == (0, "")
    assert out.startswith(f"ok: {EXAMPLE}: 2 regions (0 always sensitive, 1 sensitive period)")


def test_validate_defaults_to_chatops_config_then_the_bundled_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from chatops.cli import main

    out = io.StringIO()
    assert main(["config", "validate"], out=out, err=io.StringIO()) == 0
    assert out.getvalue().startswith(f"ok: {BUNDLED_REGIONS}: ")
    monkeypatch.setenv("CHATOPS_CONFIG", str(EXAMPLE))
    out = io.StringIO()
    assert main(["config", "validate"], out=out, err=io.StringIO()) == 0
    assert out.getvalue().startswith(f"ok: {EXAMPLE}: ")


def test_validate_a_missing_file_is_one_line(tmp_path: Path) -> None:
    code, out, err, _ = _validate(tmp_path, None, str(tmp_path / "nope.toml"))
    assert (code, out) == (2, "")
    assert err == f"chatops config: {tmp_path / 'nope.toml'}: no such file\n"


@pytest.mark.parametrize(
    ("text", "loc", "line"),
    [
        ('regions = [{id = "x"}]\n', ("regions", 0, "name"), None),  # inline tables: no line, no guess
        ("[policy]\nhorizon_days = 0\n", ("policy", "horizon_days"), 2),
        ("[policy]\n", ("policy", "horizon_days"), 1),
        ("bogus = 1\n[[regions]]\n", ("bogus",), 1),
        ("[[regions]]\nid='a'\n[[regions]]\n 'name' = 'x'\n", ("regions", 1, "name"), 4),
        ("[[regions]]\n[[regions.sensitive_periods]]\nend=1\n", ("regions", 0, "sensitive_periods", 0), 2),
        (
            "[[regions]]\n[[regions.sensitive_periods]]\nend=1\n",
            ("regions", 0, "sensitive_periods", 0, "end"),
            3,
        ),
        ("[[regions]]\n[[regions.sensitive_periods]]\n", ("regions", 0, "sensitive_periods", 3, "end"), 1),
    ],
)
def test_toml_line_finds_the_line_of_a_location(text: str, loc: tuple, line: int | None) -> None:
    from chatops.config import toml_line

    assert toml_line(text, loc) == line


# -- policy sanity, strict booleans, plain words -----------------------------------------------------------

POLICY_MISTAKES = """\
[policy]
approvals_required = 3
flagged_approvals_required = 1
max_window_days = 0

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Teheran"
peak_hours = []
sensitive = true

[[regions]]
id = "by"
name = "Belarus"
timezone = "Europe/Minsk"
sensitive = "yes"

[[regions]]
id = "ir"
name = ""
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]
sensitive = 1

[[regions]]
id = "ua one"
name = "Ukraine"
timezone = "Europe/Kyiv"

[[regions.sensitive_periods]]
start = 2022-02-24
end = 2022-03-31
reason = "Invasion"
"""


def test_validate_reports_policy_and_sensitivity_mistakes_in_plain_words_with_lines(tmp_path: Path) -> None:
    code, out, err, path = _validate(tmp_path, POLICY_MISTAKES)
    assert (code, out) == (2, "")
    never = 'can never be flagged; give its peak hours, e.g. ["08:00-23:00"] (["00:00-24:00"] for all day)'
    assert err.splitlines() == [
        f"{path}:3: field policy.flagged_approvals_required: 1 is fewer than approvals_required (3); a flagged "
        "window must need at least as many approvers as a clear one",
        f"{path}:4: field policy.max_window_days: must be more than 0 (not 0)",
        f"{path}:9: region 'ir' (regions[0]), field timezone: unknown time zone 'Asia/Teheran' "
        "(use an IANA name such as 'Europe/Berlin' or 'UTC')",
        f"{path}:10: region 'ir' (regions[0]), field peak_hours: no peak hours, so this sensitive region "
        f"(sensitive = true) {never}",
        f"{path}:17: region 'by' (regions[1]), field sensitive: must be true or false, without quotes (not 'yes')",
        f"{path}:20: region 'ir' (regions[2]), field id: region id 'ir' is used twice (first by regions[0] at "
        "line 7)",
        f"{path}:21: region 'ir' (regions[2]), field name: must not be empty",
        f"{path}:24: region 'ir' (regions[2]), field sensitive: must be true or false, without quotes (not 1)",
        f"{path}:26: region 'ua one' (regions[3]), field peak_hours: no peak hours, so this sensitive region (it "
        f"has sensitive_periods) {never}",
        f"{path}:27: region 'ua one' (regions[3]), field id: may contain only letters, digits, '_', '.' and '-', "
        "starting with a letter or digit (not 'ua one')",
        f"{path}: 10 problems",
    ]
    assert "Input should" not in err


@pytest.mark.parametrize(
    ("text", "fine"),
    [
        ("[policy]\napprovals_required = 2\nflagged_approvals_required = 2\n" + IRAN, True),
        ("[policy]\napprovals_required = 3\n" + IRAN, False),  # the default flagged count is 2
        (IRAN + "sensitive = false\npeak_hours = []\n", True),  # not sensitive: nothing to flag
        (IRAN + 'sensitive = true\npeak_hours = ["00:00-24:00"]\n', True),
        (IRAN + "sensitive = true\n", False),
        (IRAN + "sensitive = true\nsensitive_reason = 'war'\npeak_hours = []\n", False),
        (IRAN + "sensitive = false\n", True),
        (IRAN + 'sensitive = "true"\npeak_hours = ["08:00-23:00"]\n', False),
        (IRAN + 'sensitive = 0\npeak_hours = ["08:00-23:00"]\n', False),
    ],
)
def test_policy_and_sensitivity_rules(text: str, fine: bool) -> None:
    if fine:
        parse_regions(text, source="r.toml")
    else:
        with pytest.raises(ConfigError):
            parse_regions(text, source="r.toml")


def test_a_bad_file_loaded_for_check_points_to_config_validate(tmp_path: Path) -> None:
    import io

    from chatops.cli import main

    path = tmp_path / "regions.toml"
    path.write_text(POLICY_MISTAKES, encoding="utf-8")
    err = io.StringIO()
    status = main(
        ["check", "--start", "2026-06-16T12:00Z", "--duration", "1h", "--config", str(path)], err=err
    )
    assert status == 2
    assert err.getvalue() == (
        f"chatops check: {path}: field policy.flagged_approvals_required: 1 is fewer than approvals_required "
        "(3); a flagged window must need at least as many approvers as a clear one (and 9 more problems; "
        f"'chatops config validate {path}' lists them all)\n"
    )
    path.write_text(IRAN + "sensitive = true\n", encoding="utf-8")
    err = io.StringIO()
    assert (
        main(["check", "--start", "2026-06-16T12:00Z", "--duration", "1h", "--config", str(path)], err=err)
        == 2
    )
    assert err.getvalue().endswith(f" for all day) ('chatops config validate {path}' lists every problem)\n")


# Any value of any TOML type in any field: validation never crashes, and every problem is a plain line with
# the file's name, never pydantic's own phrasing.
TOML_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-5, 30)
    | st.floats(-2, 400, allow_nan=False)
    | st.sampled_from(["", "yes", "true", "1", "Asia/Tehran", "08:00-23:00", "ir", "x" * 400])
    | st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1))
    | st.lists(st.sampled_from(["08:00-23:00", "mon-fri 09:00-17:00", "25:00-26:00", 3]), max_size=3)
    | st.fixed_dictionaries({"start": st.dates(), "end": st.dates(), "reason": st.sampled_from(["", "war"])})
)
REGION_FIELDS = ["id", "name", "timezone", "peak_hours", "sensitive", "sensitive_reason", "sensitive_periods"]
POLICY_FIELDS = ["approvals_required", "flagged_approvals_required", "horizon_days", "max_window_days"]


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return str(value)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(POLICY_FIELDS), TOML_VALUES.filter(lambda v: v is not None), max_size=3),
    st.lists(
        st.dictionaries(
            st.sampled_from(REGION_FIELDS), TOML_VALUES.filter(lambda v: v is not None), max_size=5
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_every_problem_is_a_plain_line(policy: dict[str, object], regions: list[dict[str, object]]) -> None:
    from chatops.config import regions_file_problems

    text = "[policy]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in policy.items())
    for region in regions:
        periods = region.pop("sensitive_periods", None)
        text += "\n[[regions]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in region.items())
        if isinstance(periods, dict):
            text += "[[regions.sensitive_periods]]\n" + "".join(
                f"{k} = {_toml(v)}\n" for k, v in periods.items()
            )
        elif periods is not None:
            text += f"sensitive_periods = {_toml(periods)}\n"
    config, problems = regions_file_problems(text, source="p.toml")
    assert (config is None) == bool(problems)
    for problem in problems:
        assert problem.startswith("p.toml") and "\n" not in problem
        assert "Input should" not in problem and "Value error" not in problem, problem
        assert re.match(r"p\.toml(:\d+)?: (region '[^']+' \(regions\[\d\]\)|regions\[\d\]|field )", problem)
        assert "x" * 65 not in problem  # a 400-character value is clipped, never echoed whole
