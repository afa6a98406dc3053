"""Mutation testing of the critical modules, one module at a time (``scripts/mutation``).

mutmut (https://mutmut.readthedocs.io) plants one small bug at a time (a ``<`` becomes ``<=``, a
constant changes, a call loses an argument...) and runs the tests that reach the mutated function;
a mutant is *killed* when a test fails, and *survives* when every test still passes.

mutmut reads its settings from ``[tool.mutmut]`` in the ``pyproject.toml`` of the directory it
runs in, and maps mutants to tests by running the selected tests once. So that each module is
exercised by its own small set of fast tests (not the whole suite), every module gets its own
work directory ``.mutation/<module>/``: links to the project, a ``pyproject.toml`` that is the
project's plus a ``[tool.mutmut]`` section for that module, and mutmut's own ``mutants/`` copy
(kept between runs, so a second run only retries what changed). Nothing here runs in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
# Results of earlier runs, committed: a new machine starts from them (see record() and seed()).
RECORD = ROOT / "mutation-results"
PYTHON = ROOT / ".venv" / "bin" / "python"

# Passes alone and in file order, fails when mutmut runs the tests in its own order (the
# invalid-attempt counter it expects to be empty is not): left out of the mutation runs.
ORDER_DEPENDENT = (
    "--deselect=tests/portal/test_invalid_links.py::"
    "test_the_limit_uses_the_forwarded_address_behind_a_trusted_proxy"
)
# Forty-odd seconds alone (a hundred races of the webhook and the return page), and it reaches
# most payment reads: every surviving mutant of those would pay for it again. Races are
# tests/billing/test_races.py's and test_portal_pay.py's own business, not the selectors'.
SLOW_RACE = (
    "--deselect=tests/billing/test_portal_pay.py::"
    "test_webhook_racing_the_success_page_100_times_records_exactly_one_payment_each"
)
# A revoke held against an accept on three connections: a transactional test whose teardown
# alone takes 8 to 36 seconds, and it reaches link_revoke and every answer's link check. The lock
# order it proves is not something mutmut mutates (it never drops a select_for_update()); the
# refusals themselves are the same file's other tests.
SLOW_PORTAL_RACE = (
    "--deselect=tests/portal/test_answer_services_recheck_the_link_the_estimate_and_the_revision.py::"
    "test_a_revoke_racing_an_accept_never_leaves_an_accept_on_a_revoked_link"
)

# The tests of billing/services, shared by its three modules.
BILLING_SERVICE_TESTS = [
    "tests/billing/test_checkout.py",
    "tests/billing/test_refunds.py",
    "tests/billing/test_manual_refunds_deposits.py",
    "tests/billing/test_webhooks.py",
    "tests/billing/test_webhook_queue.py",
    "tests/billing/test_webhooks_mutants.py",
    "tests/billing/test_webhooks_mutants_2.py",
    "tests/billing/test_portal_pay.py",
    "tests/billing/test_rules.py",
    "tests/billing/test_races.py",
    "tests/billing/test_stripe_limits.py",
    "tests/billing/test_tax_point.py",
    "tests/billing/test_company_notices.py",
    "tests/billing/test_accepted_figures.py",
    "tests/billing/test_selectors_mutants.py",
    "tests/billing/test_dashboard.py",
    "tests/billing/test_documents_dated_before_a_rate_change_keep_their_rate.py",
    "tests/billing/test_autopay.py",
    "tests/billing/test_bank_debit.py",
    "tests/billing/test_tips.py",
    "tests/billing/test_move_payment.py",
    "tests/billing/test_receipt_sweep.py",
    "tests/billing/test_step_up_pay.py",
    "tests/billing/test_services_mutants_3.py",
    "tests/billing/test_state_mutants_8.py",
    "tests/billing/test_state_mutants_9.py",
    SLOW_RACE,
]

# The tests of the selector layer, shared by its four modules.
SELECTOR_TESTS = [
    "tests/core/test_tenancy.py",
    "tests/core/test_home.py",
    "tests/billing/test_dashboard.py",
    "tests/portal/test_dashboard.py",
    "tests/documents/test_views.py",
    "tests/core/test_jobs.py",
    "tests/core/test_tenancy_lists.py",
    "tests/portal/test_pages.py",
    "tests/billing/test_portal_pay.py",
    "tests/billing/test_refunds.py",
    "tests/core/test_selectors_mutants.py",
    "tests/documents/test_selectors_mutants.py",
    "tests/billing/test_selectors_mutants.py",
    SLOW_RACE,
]

# module -> (files to mutate, tests that exercise them). Browser and worker tests are left out:
# each mutant runs in a forked process, and those tests are too slow to run per mutant.
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "money": (
        ["crewcommand/lib/money.py"],
        ["tests/documents/test_tax.py", "tests/core/test_money_mutants.py"],
    ),
    "tax": (
        ["documents/tax.py"],
        [
            "tests/documents/test_tax.py",
            "tests/documents/test_tax_mutants.py",
            "tests/documents/test_tax_parts.py",
            "tests/billing/test_tax_point.py",
        ],
    ),
    "totals": (
        ["documents/totals.py"],
        [
            "tests/documents/test_services.py",
            "tests/documents/test_limits.py",
            "tests/documents/test_totals_mutants.py",
            "tests/documents/test_totals_mutants_2.py",
            "tests/documents/test_tax_parts.py",
            "tests/billing/test_tax_point.py",
        ],
    ),
    "tokens": (
        ["portal/tokens.py"],
        [
            "tests/portal/test_links.py",
            "tests/portal/test_invalid_links.py",
            "tests/portal/test_tokens_mutants.py",
            ORDER_DEPENDENT,
        ],
    ),
    "canonical": (
        ["portal/canonical.py"],
        ["tests/portal/test_accept.py", "tests/portal/test_canonical_mutants.py"],
    ),
    "seal": (
        ["portal/seal.py"],
        [
            "tests/portal/test_accept.py",
            "tests/portal/test_evidence_admin.py",
            "tests/portal/test_seal_mutants.py",
        ],
    ),
    "colour": (["crewcommand/lib/colour.py"], ["tests/core/test_colour.py"]),
    "portal-middleware": (
        ["portal/middleware.py"],
        [
            "tests/portal/test_scope.py",
            "tests/portal/test_invalid_links.py",
            "tests/portal/test_links.py",
            "tests/portal/test_privacy.py",
            "tests/portal/test_pages.py",
            "tests/portal/test_middleware_mutants.py",
            ORDER_DEPENDENT,
        ],
    ),
    # Links, sends, views and the customer's answers (portal/services.py opens its transactions
    # with a with-block, so mutmut reaches all but `_send_scope` and the two classes' properties).
    "portal-services": (
        ["portal/services.py"],
        [
            "tests/portal/test_links.py",
            "tests/portal/test_dashboard.py",
            "tests/portal/test_expiry.py",
            "tests/portal/test_invalid_links.py",
            "tests/portal/test_contacts.py",
            "tests/portal/test_document_emails.py",
            "tests/portal/test_send_preview.py",
            "tests/automations/test_languages.py",
            "tests/automations/test_triggers.py",
            "tests/portal/test_pages.py",
            "tests/portal/test_views_without_writes.py",
            "tests/portal/test_accept.py",
            "tests/portal/test_answer_services_recheck_the_link_the_estimate_and_the_revision.py",
            "tests/portal/test_changes_requested.py",
            "tests/portal/test_option_picks_survive_a_reload.py",
            "tests/portal/test_signed_content_covers_descriptions_notes_and_accents.py",
            "tests/portal/test_step_up.py",
            "tests/portal/test_language.py",
            "tests/portal/test_evidence_admin.py",
            "tests/portal/test_dashboard_shows_a_mismatched_signature.py",
            "tests/portal/test_services_mutants_links.py",
            "tests/portal/test_services_mutants_answers.py",
            "tests/portal/test_services_mutants_views.py",
            "tests/portal/test_services_mutants_accept.py",
            "tests/portal/test_services_mutants_sharing.py",
            "tests/portal/test_services_mutants_creating.py",
            "tests/portal/test_services_mutants_locks.py",
            "tests/portal/test_services_mutants_check.py",
            "tests/portal/test_views_when_the_cache_is_down.py",
            ORDER_DEPENDENT,
            SLOW_PORTAL_RACE,
        ],
    ),
    **{
        f"billing-{part}": (files, BILLING_SERVICE_TESTS)
        for part, files in {
            # billing/services split three ways: each runs (and maps its tests) on its own.
            "checkout": [
                "billing/services/__init__.py",
                "billing/services/checkout.py",
                "billing/services/returns.py",
                "billing/services/metadata.py",
                "billing/services/autopay.py",
            ],
            "state": [
                "billing/services/stripe_state.py",
                "billing/services/events.py",
                "billing/services/ledger.py",
            ],
            "refunds": [
                "billing/services/refunds.py",
                "billing/services/manual.py",
                "billing/services/transfers.py",
                "billing/services/connect.py",
            ],
        }.items()
    },
    "billing-webhooks": (
        ["billing/webhooks.py"],
        [
            "tests/billing/test_webhooks.py",
            "tests/billing/test_webhook_queue.py",
            "tests/billing/test_webhooks_mutants.py",
            "tests/billing/test_webhooks_mutants_2.py",
            "tests/billing/test_webhooks_mutants_3.py",
        ],
    ),
    "access": (
        ["crewcommand/access.py", "crewcommand/permissions.py"],
        [
            "tests/core/test_permissions.py",
            "tests/core/test_tenancy.py",
            "tests/core/test_access_mutants.py",
        ],
    ),
    # The selector layer, one module per app (each maps and runs on its own).
    "core-selectors": (["crewcommand/selectors.py"], SELECTOR_TESTS),
    "documents-selectors": (["documents/selectors.py"], SELECTOR_TESTS),
    "portal-selectors": (["portal/selectors.py"], SELECTOR_TESTS),
    "billing-selectors": (["billing/selectors.py"], SELECTOR_TESTS),
}

# Not copied into a work directory: version control, the virtualenv, earlier work directories.
SKIP = {".git", ".venv", ".mutation", "mutants", "media", "staticfiles", "node_modules"}


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(name: str, fresh: bool) -> Path:
    files, tests = MODULES[name]
    work = WORK / name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    packages, others = [], []
    for entry in sorted(ROOT.iterdir()):
        if entry.name in SKIP or entry.name == "pyproject.toml" or entry.name.startswith(".git"):
            continue
        link = work / entry.name
        if not link.is_symlink():
            link.symlink_to(entry)
        if entry.is_dir() and (entry / "__init__.py").exists() and entry.name != "tests":
            packages.append(entry.name)
        elif entry.name != "tests":
            others.append(entry.name)
    existing = [t for t in tests if t.startswith("-") or (ROOT / t.split("::")[0]).exists()]
    config = f"""

[tool.mutmut]
# Written by scripts/mutation for the module "{name}"; do not edit (edit scripts/mutation.py).
source_paths = {toml_list(packages)}
also_copy = {toml_list(others)}
only_mutate = {toml_list(files)}
pytest_add_cli_args_test_selection = {toml_list(existing)}
pytest_add_cli_args = ["-m", "not browser and not worker", "-p", "no:randomly", "--reuse-db"]
# Fork each mutant from a server that has imported pytest, Django and the tests already.
process_isolation = "forkserver"
forkserver_warmup = "collect"
use_git_change_detection = false
# A mutant whose tests run 5x longer than clean (plus 15 s for start-up on a busy machine) hangs:
# counted as killed ("timeout"), but retried by the next run in case the machine was just busy.
timeout_multiplier = 5.0
timeout_constant = 15.0
"""
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + config)
    return work


KILLED_EXIT_CODES = {1, 3, 37}  # killed by a test (3: pytest error), or by the type checker


def forget_unkilled(work: Path) -> None:
    """Make mutmut retry what was not killed (survivors, no tests, timeouts) on this run.

    mutmut keeps every result until the mutated function changes, so a test added since would
    not be tried on an old survivor. (Naming the mutants on the command line instead makes
    mutmut forget every other result.) Survivors listed in the README as equivalent are kept:
    no test can kill them, and a survivor costs every test that reaches its function."""
    equivalent = equivalent_mutants()
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        for key, code in codes.items():
            if code not in KILLED_EXIT_CODES and not (code == 0 and key in equivalent):
                codes[key] = None
        meta.write_text(json.dumps(data, indent=4))


def _pytest_settings(work: Path) -> tuple[list[str], list[str]] | None:
    """The test arguments and test selection of the module's last run (its ``pyproject.toml``)."""
    try:
        mutmut_config = tomllib.loads((work / "pyproject.toml").read_text())["tool"]["mutmut"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None
    return mutmut_config["pytest_add_cli_args"], mutmut_config["pytest_add_cli_args_test_selection"]


def kills_to_keep(work: Path, before: tuple[list[str], list[str]] | None) -> dict[str, tuple]:
    """Kills that stay valid when the module's tests only grew: ``{mutant: (code, hash)}``.

    mutmut forgets every result when the test selection changes at all, so adding a test file
    to a module would re-run all of it. A mutant some test killed is still killed when tests are
    only added and its function is unchanged: these are put back after the run (``restore``).
    So is the survival of a mutant listed as equivalent (no test can kill it: were one added
    that does, keeping "survived" only under-counts the kills until the module's next --fresh
    run), so that a run by name (``--only``) need not name the listed ones again."""
    after = _pytest_settings(work)
    if before is None or after is None or before == after:
        return {}
    if before[0] != after[0] or not set(before[1]) <= set(after[1]):
        return {}  # tests run differently, or some left the selection: everything again
    kept: dict[str, tuple] = {}
    equivalent = equivalent_mutants()
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        hashes = data.get("hash_by_function_name", {})
        for key, code in data.get("exit_code_by_key", {}).items():
            function = key.rpartition("__mutmut_")[0].rpartition(".")[2]
            known = code in KILLED_EXIT_CODES or (code == 0 and key in equivalent)
            if known and function in hashes:
                kept[key] = (code, hashes[function])
    return kept


def _mutant_keys(work: Path) -> list[str]:
    return [
        key
        for meta in sorted((work / "mutants").rglob("*.py.meta"))
        for key in json.loads(meta.read_text()).get("exit_code_by_key", {})
    ]


def restore(work: Path, kept: dict[str, tuple]) -> int:
    """Put back the results of ``kills_to_keep`` that mutmut forgot (function unchanged)."""
    restored = 0
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        hashes = data.get("hash_by_function_name", {})
        codes = data.get("exit_code_by_key", {})
        for key, code in codes.items():
            function = key.rpartition("__mutmut_")[0].rpartition(".")[2]
            if code is None and key in kept and kept[key][1] == hashes.get(function):
                codes[key] = kept[key][0]
                restored += 1
        meta.write_text(json.dumps(data, indent=4))
    return restored


def _record_path(name: str) -> Path:
    return RECORD / f"{name}.json"


def _mutant_number(key: str) -> tuple[str, int]:
    """``portal.selectors.x_dead_link__mutmut_9`` -> (``x_dead_link``, 9)."""
    function, _, number = key.rpartition("__mutmut_")
    return function.rpartition(".")[2], int(number)


def record(name: str) -> Path | None:
    """Write the module's results to ``mutation-results/<module>.json`` (committed).

    Per mutated file and function: the function's hash as mutmut computed it and the exit code
    of each of its mutants in order (``null``: not checked). A new machine starts from it (see
    ``seed``): mutmut then keeps the results of every function whose hash is unchanged and
    re-runs the mutants of any function that changed."""
    metas = sorted((WORK / name / "mutants").rglob("*.py.meta"))
    if not metas:
        return None
    files: dict[str, dict[str, dict[str, object]]] = {}
    for meta in metas:
        data = json.loads(meta.read_text())
        path = str(meta.relative_to(WORK / name / "mutants"))[: -len(".meta")]
        functions: dict[str, dict[str, object]] = {
            function: {"hash": digest, "results": []}
            for function, digest in sorted(data.get("hash_by_function_name", {}).items())
        }
        for key, code in data.get("exit_code_by_key", {}).items():
            function, number = _mutant_number(key)
            if function not in functions:
                continue
            results = functions[function]["results"]
            assert isinstance(results, list)
            results.extend([None] * (number - len(results)))
            results[number - 1] = code
        files[path] = functions
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"],  # noqa: S607 (git from PATH)
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=False,
    ).stdout.strip()
    RECORD.mkdir(exist_ok=True)
    out = _record_path(name)
    lines = [f'{{"module": {json.dumps(name)}, "commit": {json.dumps(commit)}, "files": {{']
    for i, (path, functions) in enumerate(files.items()):
        lines.append(f"  {json.dumps(path)}: {{")
        for j, (function, entry) in enumerate(functions.items()):
            comma = "," if j < len(functions) - 1 else ""
            lines.append(f"    {json.dumps(function)}: {json.dumps(entry)}{comma}")
        lines.append("  }" + ("," if i < len(files) - 1 else ""))
    lines.append("}}")
    out.write_text("\n".join(lines) + "\n")
    return out


def seed(name: str, work: Path) -> int:
    """Start a new work directory from the committed record: write mutmut's ``.meta`` file for
    each mutated file that has none yet. mutmut regenerates the mutants on its first run, keeps
    the recorded result of every mutant whose function's hash is the same, and forgets the
    rest. Returns the number of results seeded."""
    path = _record_path(name)
    if not path.exists():
        return 0
    seeded = 0
    for source, functions in json.loads(path.read_text())["files"].items():
        meta = work / "mutants" / f"{source}.meta"
        if meta.exists():
            continue
        module = source[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        codes: dict[str, int | None] = {}
        for function, entry in functions.items():
            for number, code in enumerate(entry["results"], start=1):
                codes[f"{module}.{function}__mutmut_{number}"] = code
                seeded += code is not None
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(
            json.dumps(
                {
                    "exit_code_by_key": codes,
                    "hash_by_function_name": {f: e["hash"] for f, e in functions.items()},
                    "type_check_error_by_key": {},
                    "durations_by_key": {},
                    "estimated_durations_by_key": {},
                },
                indent=4,
            )
        )
    return seeded


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ, DJANGO_ALLOW_ASYNC_UNSAFE="true", CREWCOMMAND_TESTING="true")
    if env.get("DATABASE_URL", "").startswith("postgres"):
        # A test database per module (kept with --reuse-db): a mutation run never shares one with
        # scripts/test or with another module's run.
        env["DATABASE_URL"] += "_mut_" + work.name.replace("-", "_")
    # No Redis: each test process gets its own in-memory cache. Redis is shared, and one run's
    # cache.clear() would reset another's rate-limit counters mid-test (worker tests, which need
    # Redis, are left out anyway).
    env.pop("REDIS_URL", None)
    # CI=true makes tests/conftest.py refuse to skip what needs Redis: not for a mutation run.
    env.pop("CI", None)
    return env


def mutmut(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = environment(work)
    return subprocess.run(  # noqa: S603 (our own venv python, fixed arguments)
        [str(PYTHON), "-m", "mutmut", *args], cwd=work, env=env, check=check, text=True
    )


def score(name: str) -> tuple[int, int, list[str]]:
    """(killed, total, survivors) from mutmut's ``results --all``."""
    work = WORK / name
    env = environment(work)
    out = subprocess.run(  # noqa: S603 (as above)
        [str(PYTHON), "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        env=env,
        text=True,
        capture_output=True,
        check=False,
    ).stdout
    killed, total, survivors = 0, 0, []
    for line in out.splitlines():
        match = re.match(r"\s*(\S+): (.+)$", line)
        if not match:
            continue
        mutant, status = match.groups()
        total += 1
        if status.strip() in {"killed", "caught by type check", "timeout"}:
            killed += 1
        if status.strip() != "killed":
            survivors.append(f"{mutant}: {status.strip()}")
    return killed, total, survivors


def recorded_score(name: str) -> tuple[int, int, list[str]]:
    """(killed, total, survivors) from the committed record, as ``score`` reads them."""
    from mutmut.stats import status_by_exit_code  # installed by scripts/mutation

    data = json.loads(_record_path(name).read_text())
    killed, total, survivors = 0, 0, []
    for source, functions in data["files"].items():
        module = source[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        for function, entry in functions.items():
            for number, code in enumerate(entry["results"], start=1):
                total += 1
                status = status_by_exit_code[code]
                if status in {"killed", "caught by type check", "timeout"}:
                    killed += 1
                if status != "killed":
                    survivors.append(f"{module}.{function}__mutmut_{number}: {status}")
    return killed, total, survivors


def equivalent_mutants() -> set[str]:
    """Mutant names listed (in backquotes) in the README's table of equivalent mutants."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"any of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--max-children", type=int, default=1, help="mutants run at once")
    parser.add_argument("--score", action="store_true", help="print the scores only, run nothing")
    parser.add_argument(
        "--record",
        action="store_true",
        help="write each module's results to mutation-results/<module>.json (to commit)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only these mutants (names or globs, e.g. 'documents.selectors.x_funnel*'; "
        "repeatable); mutmut re-runs them even if they were killed before",
    )
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    names = args.modules or list(MODULES)
    if not args.score:
        for name in names:
            before = None if args.fresh else _pytest_settings(WORK / name)
            work = prepare(name, args.fresh)
            print(f"== {name}: mutmut run in {work.relative_to(ROOT)}", flush=True)
            if not args.fresh and (seeded := seed(name, work)):
                print(f"== {name}: {seeded} results from {_record_path(name).name}", flush=True)
            forget_unkilled(work)
            kept = kills_to_keep(work, before)
            only = args.only
            if kept:
                only = only or [key for key in _mutant_keys(work) if key not in kept]
                print(
                    f"== {name}: tests only added: {len(kept)} results kept (kills, listed "
                    f"equivalents' survival), {len(only)} to run",
                    flush=True,
                )
            run = ["run", "--max-children", str(args.max_children), *only]
            if mutmut(work, *run, check=False).returncode != 0:
                # The first run of a module creates its test database, and mutmut's first pass
                # over the tests (which maps tests to functions) can fail then: try once more.
                print(f"== {name}: once more", flush=True)
                mutmut(work, *run, check=False)
            if kept:
                print(f"== {name}: {restore(work, kept)} results put back", flush=True)
    if args.record:
        for name in names:
            if (written := record(name)) is not None:
                print(f"== {name}: results written to {written.relative_to(ROOT)}")
    print()
    equivalent = equivalent_mutants()
    header = (
        f"{'module':<20} {'killed':>7} {'total':>6} {'score':>8} {'equivalent':>11} {'left':>5} "
        f"{'score without equivalents':>26}"
    )
    print(header)
    details = []
    for name in names:
        source = ""
        if (WORK / name / "mutants").exists():
            killed, total, survivors = score(name)
        elif _record_path(name).exists():
            # Not run on this machine: the committed results (mutmut re-runs any function that
            # changed since, on the next run).
            killed, total, survivors = recorded_score(name)
            commit = json.loads(_record_path(name).read_text())["commit"]
            source = f"  (recorded at {commit[:9]}, not run here)"
        else:
            print(f"{name:<20} {'-':>7} {'-':>6} {'not run':>8}")
            continue
        # Listed as equivalent and checked: a mutant never run is not counted as equivalent.
        known = [s for s in survivors if s.split(":")[0] in equivalent and s.endswith(": survived")]
        left = [s for s in survivors if s not in known and not s.endswith(": timeout")]
        pct = f"{100 * killed / total:.1f} %" if total else "-"
        real = total - len(known)
        adjusted = f"{100 * killed / real:.1f} %" if real else "-"
        print(
            f"{name:<20} {killed:>7} {total:>6} {pct:>8} {len(known):>11} {len(left):>5} "
            f"{adjusted:>26}{source}"
        )
        details += [f"  {name}: {s}" for s in left]
    if details:
        print("\nNot killed and not listed as equivalent in README.md:")
        print("\n".join(details))
    print("\nSee a survivor's diff: cd .mutation/<module> && ../../.venv/bin/mutmut show <mutant>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
