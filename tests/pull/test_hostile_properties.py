"""Property: whatever hostile CSV and JSONL files land beside a good one, the pull never crashes out of
``pull_source``, the good file still loads, the audit balances, and every record of a file that loaded is in
raw or in quarantine.

Generated: random bytes (not UTF-8, NUL, lone CR, control characters), quoting, CRLF, a cut last line,
header names (system columns, repeats in another case, blanks), field sizes past the csv module's limit,
duplicate keys. ``LEADFLOW_HOSTILE_EXAMPLES`` sets how many landing zones are generated (default 90: each
has 2-6 hostile files and 2 good ones, about 540 files, ~70 s here).
"""

from __future__ import annotations

import itertools
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.pull.readers import SourceError

from .test_files import FILES

EXAMPLES = int(os.environ.get("LEADFLOW_HOSTILE_EXAMPLES", "90"))
_zone = itertools.count()
HEADER = ["engagement_id", "email", "channel", "action", "asset_name", "occurred_at"]

junk_bytes = st.binary(min_size=0, max_size=40)
text_value = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            '"',
            '""',
            "a,b",
            "x\r",
            "\x00",
            "\x07",
            "é",
            "\\",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        ]
    ),
    st.integers(min_value=0, max_value=3).map(lambda n: "y" * [10_001, 131_073, 5, 0][n]),
)
header_name = st.sampled_from(["xmin", "CTID", "Email", "EMAIL", "", " ", "tableoid", "extra", "Asset Name", "é"])


@st.composite
def csv_file(draw, tag: str) -> bytes:
    header = list(HEADER)
    for _ in range(draw(st.integers(0, 3))):
        header.insert(draw(st.integers(0, len(header))), draw(header_name))
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines = [",".join(header).encode()]
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 4))
        key = f"{tag}-{draw(st.integers(0, 5))}"  # repeats: duplicate keys
        if kind == 0:  # tagged: a keyless bad line repeated from another run is, by design, one quarantine row
            lines.append(tag.encode() + draw(junk_bytes))
            continue
        values = {h: draw(text_value) for h in header}
        values.update(engagement_id=key, email=f"p{i}@acme.com", occurred_at="2026-11-19T10:00:00Z")
        if kind == 1:
            values["email"] = draw(text_value)
        cells = [str(values.get(h, "")) for h in header]
        if draw(st.booleans()):
            cells = ['"' + c.replace('"', '""') + '"' for c in cells]
        lines.append(",".join(cells).encode("utf-8", "surrogatepass"))
    data = end.join(lines) + end
    if draw(st.booleans()) and len(lines) > 1:
        data = data[: -draw(st.integers(1, 5))]  # cut short: the writer may still be at it
    return data


@st.composite
def jsonl_file(draw, tag: str) -> bytes:
    lines = []
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            lines.append(tag.encode() + draw(junk_bytes).replace(b"\n", b""))
            continue
        record = {
            "event_id": f"{tag}-{draw(st.integers(0, 5))}",
            "event_type": "page_view",
            "occurred_at": draw(st.sampled_from(["2026-11-19T10:00:00Z", "2026-11-19T10:00:00", "soon", None])),
            "email": f"p{i}@acme.com",
        }
        for _ in range(draw(st.integers(0, 3))):
            record[draw(header_name)] = draw(st.one_of(text_value, st.integers(), st.lists(st.integers(), max_size=2)))
        lines.append(json.dumps(record).encode() if kind != 3 else json.dumps(record).encode()[:-3])
    return b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")


GOOD_CSV = ",".join(HEADER) + "\n{tag}-good,good@acme.com,email,email_open,Newsletter,2026-11-19T10:00:00Z\n"
GOOD_JSONL = '{{"event_id": "{tag}-good", "event_type": "page_view", "occurred_at": "2026-11-19T10:00:00Z"}}\n'


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
          HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(data=st.data())
def test_hostile_files_never_crash_the_pull_and_lose_nothing(env, data) -> None:
    env.configure(FILES)
    zone = next(_zone)
    sources = (
        ("marketing", "marketing", "csv", csv_file, GOOD_CSV),
        ("web", "web", "jsonl", jsonl_file, GOOD_JSONL),
    )
    # everything is drawn before anything runs, so a replay draws the same whatever the warehouse holds
    files = {
        source: [data.draw(strategy(f"z{zone}f{n}{ext[0]}")) for n in range(data.draw(st.integers(1, 3)))]
        for source, _, ext, strategy, _ in sources
    }
    for source, folder, ext, _, good in sources:
        names = []
        for n, content in enumerate(files[source]):
            name = f"{folder}/z{zone}_{n}.{ext}"
            env.write(name, content)
            names.append(name)
        env.write(f"{folder}/z{zone}_good.{ext}", good.format(tag=f"z{zone}{ext[0]}"))
        try:
            env.pull(source, f"run-{zone}")
            failed = ""
        except SourceError as err:  # only units fail, each named; never anything else
            failed = str(err)
        # the good file beside them loads
        table = "raw.marketing_engagements" if source == "marketing" else "raw.web_events"
        key = "engagement_id" if source == "marketing" else "event_id"
        assert env.one(f"select count(*) from {table} where {key} = %s", (f"z{zone}{ext[0]}-good",)) == 1
        assert env.one("select count(*) from ops.load_audit where read <> loaded + quarantined") == 0
        loaded = {r[0] for r in env.rows("select path from ops.loaded_files where source like %s", (f"{source}.%",))}
        for name in names:  # each hostile file loaded, or failed as a unit that the error names
            assert any(p.endswith(name) for p in loaded) or name.rsplit("/", 1)[-1] in failed, (name, failed)
        # every record read this run is in raw (written by this run) or in quarantine (new, or seen again)
        run = f"run-{zone}"
        read = env.one("select coalesce(sum(read), 0) from ops.load_audit where run_id = %s and source = %s",
                       (run, source))  # fmt: skip
        in_raw = env.one(f"select count(*) from {table} where _batch_id like %s", (f"{run}:%",))
        quarantined = env.one(
            "select count(*) from ops.quarantine where source = %s and (run_id = %s or last_seen_run_id = %s)",
            (source, run, run),
        )
        assert in_raw + quarantined == read, (in_raw, quarantined, read)
