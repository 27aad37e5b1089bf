"""A cost plan (xltransfer.planning.plan) as Markdown tables, for a terminal and GitHub."""

from __future__ import annotations

import math
from collections import defaultdict

from xltransfer.planning.plan import FAMILIES, STATE_COPIES, STATES_KEPT, Plan


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """A Markdown table; the columns in `right` are right-aligned numbers."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = [header, align, *rows]
    return ["| " + " | ".join(cells) + " |" for cells in lines]


def _gb(value: float) -> str:
    if value < 1e9:
        return f"{value / 1e6:,.1f} MB"
    return f"{value / 1e9:,.1f} GB"


def _tokens(value: float) -> str:
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:,.1f}{unit}"
    return f"{value:,.0f}"


def _hours(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:,.3g}"


def _span(low: float, high: float) -> str:
    """Device-hours as a range, or one figure where both ends agree (measured throughput)."""
    return _hours(high) if _hours(low) == _hours(high) else f"{_hours(low)}-{_hours(high)}"


def jobs_table(plan: Plan) -> list[str]:
    low, high = plan.rule_hours("low"), plan.rule_hours("high")
    rows = []
    for rule, count in plan.job_counts.items():
        if rule == "total":
            continue
        estimated = rule in high
        rows.append([rule, f"{count:,}", _span(low[rule], high[rule]) if estimated else "-"])
    total = f"**{_span(*plan.hours_range)}**"
    rows.append(["**total**", f"**{plan.job_counts['total']:,}**", total])
    return _table(["rule", "jobs", f"{plan.device} device-h"], rows, {1, 2})


def workload_table(plan: Plan, rules: tuple[str, ...]) -> list[str]:
    rows = []
    for w in plan.workloads:
        if w.rule not in rules:
            continue
        low, hours = plan.hours(w, "low"), plan.hours(w)
        tokens = w.train_tokens + w.eval_tokens
        rows.append(
            [
                w.rule,
                w.model,
                w.task,
                f"{w.jobs:,}",
                w.detail,
                _tokens(w.train_tokens),
                _tokens(w.eval_tokens),
                _tokens(tokens / w.jobs),
                _span(low / w.jobs, hours / w.jobs),
                _span(low, hours),
            ]
        )
    header = ["rule", "model", "task", "jobs", "per job", "train tokens", "eval tokens"]
    header += ["tokens/job", "device-h/job", "device-h"]
    return _table(header, rows, {3, 5, 6, 7, 8, 9})


def _rate(bounds: dict[str, float]) -> str:
    fast, slow = f"{bounds['low']:,.0f}", f"{bounds['high']:,.0f}"
    return fast if fast == slow else f"{slow}-{fast}"


def throughput_table(plan: Plan) -> list[str]:
    rows = [
        [
            model,
            f"{plan.parameters[model] / 1e6:,.1f}M",
            _rate(speed.train),
            _rate(speed.eval),
            speed.source,
        ]
        for model, speed in plan.speeds.items()
    ]
    header = ["model", "parameters", "train tokens/s", "eval tokens/s", "source"]
    citations = dict.fromkeys(c for speed in plan.speeds.values() for c in speed.citations)
    return [*_table(header, rows, {1, 2, 3}), "", *(f"- {c}" for c in citations)]


def rows_table(plan: Plan) -> list[str]:
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for (task, language, role), rows in plan.rows.items():
        grouped[(task, role)].append((language, rows))
    table = []
    for (task, role), entries in sorted(grouped.items()):
        total = sum(rows.count for _, rows in entries)
        origins = sorted({rows.origin for _, rows in entries})
        languages = ", ".join(language for language, _ in sorted(entries))
        table.append([task, role, languages, f"{total:,}", "; ".join(origins)])
    return _table(["task", "role", "languages", "rows", "from"], table, {3})


def disk_table(plan: Plan) -> list[str]:
    rows = [
        [
            item.what,
            f"{item.count:,}",
            _gb(item.total / item.count) if item.count else "-",
            _gb(item.total),
            "yes" if item.kept else "peak only",
        ]
        for item in plan.disk
    ]
    rows.append(["**final**", "", "", f"**{_gb(plan.final_bytes)}**", ""])
    rows.append(["**peak**", "", "", f"**{_gb(plan.peak_bytes)}**", ""])
    return _table(["item", "count", "each", "total", "kept at the end"], rows, {1, 2, 3})


def _software() -> str:
    """The versions the jobs will record, as the plan is made with them."""
    from xltransfer.results import package_versions

    versions = package_versions()
    named = ", ".join(
        f"{name} {versions[name]}" for name in ("torch", "transformers", "accelerate")
    )
    return f"{named}, xltransfer commit {versions['xltransfer_commit']}"


def render_markdown(plan: Plan, config_path: str, profile_note: str) -> str:
    """The whole plan: jobs per rule, workloads, throughput, rows read, disk and assumptions."""
    gpu_rules = ", ".join(f"{rule} ({family})" for rule, family in FAMILIES.items())
    keep = "kept" if plan.keep_target_checkpoints else "temporary"
    lines = [
        f"# Cost plan of run `{plan.run}`",
        "",
        f"Config `{config_path}`; device `{plan.device}`; {plan.jobs_in_flight} jobs in flight "
        f"({profile_note}). Nothing was run: the figures come from the grid, the `plan:` "
        "section and any staged lock files.",
        "",
        f"Software: {_software()} (`requirements-lock.txt` pins every package).",
        "",
        f"**{plan.job_counts['total']:,} jobs, {_span(*plan.hours_range)} {plan.device} "
        f"device-hours ({_hours(plan.overhead_hours)} of them job start-up, assumed), "
        f"{_gb(plan.final_bytes)} on disk at the end, {_gb(plan.peak_bytes)} at the peak.**",
        "",
        "## Jobs per rule",
        "",
        *jobs_table(plan),
        "",
        "Device-hours are estimated for the rules that take a device: "
        f"{gpu_rules}; the others run on CPU and are left out (-).",
        "",
        "## Fine-tuning",
        "",
        "Tokens per job = examples x epochs x max length x sequences per example, processed "
        "forward and backward; eval tokens are the English dev split scored after every epoch.",
        "",
        *workload_table(plan, ("pretrain", "train_source", "train_target")),
        "",
        "## Evaluation and embeddings",
        "",
        *workload_table(plan, ("evaluate", "evaluate_retrieval", "task_embedding")),
        "",
        f"## Throughput on `{plan.device}`",
        "",
        *throughput_table(plan),
        "",
        "## Rows read",
        "",
        *rows_table(plan),
        "",
        "## Disk",
        "",
        *disk_table(plan),
        "",
        f"Checkpoints take 4 bytes per parameter (fp32 safetensors); target checkpoints are "
        f"{keep} (`keep.target_checkpoints`). A training job holds up to {STATES_KEPT} resume "
        f"states of {STATE_COPIES}x its model (weights and AdamW's two moments) until it ends. "
        "The peak adds everything in flight to the final figure, as if all of it were on disk "
        "at once.",
        "",
        "## Assumptions",
        "",
        "- Every sequence is counted at its max length; dynamic padding makes most of them "
        "shorter, so tokens are an upper bound. Extractive QA contexts longer than one window "
        "give more than one feature per example, which is not counted.",
        f"- {_basis(plan)}",
        "- FLOP-based throughput leaves out attention's share (it grows with sequence length) "
        "and counts only the parameters a token passes through (`compute_parameters`); "
        "AdamW's step moves every parameter, embedding tables included, "
        "`plan.optimizer_bandwidth_share` of the device's memory bandwidth "
        "(`plan.devices.<device>.memory_gb_per_s`).",
        f"- Each job and device adds {plan.overhead_minutes:g} minutes of start-up "
        "(`plan.overhead_minutes`): process start, model load, tokenising.",
        "- Resume states and in-flight checkpoints are sized for the largest model.",
        "",
    ]
    return "\n".join(lines)


def _basis(plan: Plan) -> str:
    """Whether the device-hours rest on measurements or on assumed ranges, said once."""
    if plan.measured:
        return (
            "Throughput is measured (`plan.models.<model>.throughput`, its source above), so "
            "the device-hours are one figure; the start-up per job is still assumed."
        )
    return (
        "Throughput is assumed, not measured, so the device-hours are a range: the low end at "
        "the high MFU and memory-bandwidth share (`plan.mfu`, `plan.optimizer_bandwidth_share`), "
        "the high end at the low ones; budget the high end until a measurement replaces it."
    )


def power_section(sources: int, targets: int, prior: dict[str, float]) -> str:
    """The smallest effect the pooled test detects at 80 % power, from the config's shape and
    the stated prior, with a few more sources for comparison: before any job runs."""
    from xltransfer.analysis.power import detectable_spearman
    from xltransfer.analysis.simulation import GridShape

    gain, similarity = prior["gain_source_share"], prior["similarity_source_share"]
    rows = []
    for more in (0, 2, 5, 10):
        shape = GridShape(sources + more, targets, 1, 1)
        mde, how = detectable_spearman(shape, gain, similarity)
        label = f"{sources + more}" + (" (this grid)" if more == 0 else f" (+{more})")
        rows.append([label, f"{mde:.2f}" if math.isfinite(mde) else "-", how])
    return "\n".join(
        [
            "## Power",
            "",
            f"With {targets} target(s) per model, the pooled test (within-target ranks, source "
            "permutation) has 80 % power at alpha 0.05 only for a true within-target Spearman "
            "correlation of similarity and gain at least as large as below. The prior "
            f"(`plan.power_prior`): a source carries {100 * gain:.0f} % of the gain's "
            f"within-target variance and {100 * similarity:.0f} % of a similarity's; "
            "`answer.txt` measures both on the grid once it has run.",
            "",
            *_table(["sources", "detectable Spearman", "how"], rows, {1}),
            "",
        ]
    )


def next_run_section(plan: Plan, now: dict[str, int], redone: list) -> str:
    """What the next run of a grid that has partly run will do: jobs per rule to run against
    done, device-hours of those (each rule's average job), and every finished fine-tune it
    would train again with Snakemake's reason (`xltransfer.planning.redo`)."""
    from xltransfer.planning.redo import describe

    hours = plan.rule_hours()
    rows, total = [], 0.0
    for rule, count in plan.job_counts.items():
        if rule == "total" or not now.get(rule):
            continue
        each = hours[rule] / count if rule in hours and count else None
        total += (each or 0.0) * now[rule]
        cost = _hours(each * now[rule]) if each is not None else "-"
        rows.append([rule, f"{now[rule]:,}", f"{max(count - now[rule], 0):,}", cost])
    lines = [
        "## The next run",
        "",
        f"A dry run of the grid as it stands: **{sum(now.values()):,} jobs to run, "
        f"{_hours(total)} {plan.device} device-hours**; device-hours are each rule's average job.",
        "",
    ]
    if rows:
        lines += [
            *_table(["rule", "to run", "done", f"{plan.device} device-h"], rows, {1, 2, 3}),
            "",
        ]
    if redone:
        lines += [
            f"It would train {len(redone)} finished fine-tune(s) again; a run refuses to unless "
            "`XLTRANSFER_RETRAIN=1`:",
            "",
            *[f"- {describe(job)}" for job in redone],
            "",
        ]
    else:
        lines += ["It trains no finished fine-tune again.", ""]
    return "\n".join(lines)
