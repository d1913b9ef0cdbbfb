"""Fill slurm/template.sbatch: #SBATCH directives and the srun launcher from a profile, and a body per job kind.

Every value that comes from a profile, a spec or a path goes through `shlex.quote` (sbatch reads #SBATCH lines with
the shell's quoting rules too), so a name or path with a space or a quote stays one word. Only the profile's
`setup:` lines go in as written: they are the user's own shell.
"""

from __future__ import annotations

import shlex
import string
from pathlib import Path

from lit_gen.errors import LitGenError
from lit_gen.slurm.profile import ClusterProfile

TEMPLATE_NAME = "template.sbatch"


def q(value: object) -> str:
    return shlex.quote(str(value))


def template_path(profile: ClusterProfile) -> Path:
    """The profile's `template`, else template.sbatch beside the profile (your own copy to edit), else the one
    installed with lit_gen (`slurm/template.sbatch` of the repository links to it)."""
    if profile.template is not None:
        return profile.template
    candidates = ([profile.path.parent / TEMPLATE_NAME] if profile.path is not None else []) + [
        Path(__file__).with_name(TEMPLATE_NAME)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise LitGenError(f"no sbatch template: none of {', '.join(map(str, candidates))} exists "
                      "(set `template:` in the profile)")


def format_memory(mb: int) -> str:
    return f"{mb // 1024}G" if mb % 1024 == 0 else f"{mb}M"


def gpu_option(profile: ClusterProfile) -> str | None:
    """`--gres=gpu[:type]:G` or `--gpus-per-node=[type:]G`: the GPUs of one node; None on CPU."""
    if profile.accelerator != "gpu":
        return None
    typed = f"{profile.gpu_type}:{profile.devices}" if profile.gpu_type else str(profile.devices)
    if profile.gpu_request == "gpus_per_node":
        return f"--gpus-per-node={q(typed)}"
    return f"--gres={q('gpu:' + typed)}"


def directives(profile: ClusterProfile, *, job_name: str, output: Path, chdir: Path,
               array: str | None = None) -> list[str]:
    options = [f"--job-name={q(job_name)}"]
    for key in ("partition", "account", "qos", "time"):
        value = getattr(profile, key)
        if value is not None:
            options.append(f"--{key}={q(value)}")
    options += [f"--nodes={profile.nodes}", f"--ntasks-per-node={profile.tasks_per_node}",
                f"--cpus-per-task={profile.cpus_per_task}"]
    gpus = gpu_option(profile)
    if gpus:
        options.append(gpus)
    if profile.mem_per_node_mb is not None:
        options.append(f"--mem={format_memory(profile.mem_per_node_mb)}")
    if array is not None:
        options.append(f"--array={array}")
    options += [
        f"--chdir={q(chdir)}",
        f"--output={q(output)}",
        "--open-mode=append",  # a requeued job adds to its log instead of replacing it
        f"--signal=SIGUSR1@{profile.signal_seconds}",  # to the job steps (the srun'd ranks), not the batch shell
        "--requeue",
    ]
    for line in profile.sbatch_extra:
        name, sep, value = line.partition("=")
        options.append(f"{name}={q(value)}" if sep else name)
    return [f"#SBATCH {option}" for option in options]


def launcher(profile: ClusterProfile) -> list[str]:
    """srun for one training run: `devices` ranks on each of `nodes` nodes, all stopped if one fails."""
    command = ["srun", f"--nodes={profile.nodes}", f"--ntasks-per-node={profile.tasks_per_node}",
               f"--cpus-per-task={profile.cpus_per_task}"]  # srun no longer inherits it from sbatch (SLURM 22.05)
    if profile.accelerator == "gpu":
        typed = f"{profile.gpu_type}:{profile.devices}" if profile.gpu_type else str(profile.devices)
        command.append(f"--gpus-per-node={typed}" if profile.gpu_request == "gpus_per_node"
                       else f"--gres=gpu:{typed}")
    command.append("--kill-on-bad-exit=1")
    return command


def environment_lines(profile: ClusterProfile) -> list[str]:
    lines = [f"export OMP_NUM_THREADS={profile.cpus_per_task}  # one rank's share of the cores"]
    lines += [f"export {name}={q(value)}" for name, value in profile.env.items()]
    return lines


def render(profile: ClusterProfile, *, title: str, rendered_by: str, script: Path, job_name: str, output: Path,
           chdir: Path, body: list[str], array: str | None = None) -> str:
    text = template_path(profile).read_text()
    values = {
        "title": title,
        "rendered_by": rendered_by,
        "profile": str(profile.path) if profile.path else profile.name,
        "script": q(script),
        "signal_seconds": str(profile.signal_seconds),
        "directives": "\n".join(directives(profile, job_name=job_name, output=output, chdir=chdir, array=array)),
        "setup": "\n".join(profile.setup) if profile.setup else "# (none: lit-gen must be on the PATH of the job)",
        "environment": "\n".join(environment_lines(profile)),
        "body": "\n".join(body),
    }
    try:
        return string.Template(text).substitute(values)
    except (KeyError, ValueError) as error:
        raise LitGenError(f"sbatch template {template_path(profile)}: {error!r} (write a literal $ as $$; "
                          f"placeholders: {', '.join(sorted(values))})") from error


def continued(*segments: list[str], indent: str = "    ", width: int = 100) -> str:
    """A long command as shell lines joined by backslashes: each segment (e.g. the srun launcher, then the
    command) starts a new line, an option stays on the line of its value. Words must be quoted already."""
    lines: list[str] = []
    for segment in segments:
        groups, i = [], 0
        while i < len(segment):
            word = segment[i]
            if word.startswith("--") and "=" not in word and i + 1 < len(segment) and \
                    not segment[i + 1].startswith("-"):
                groups.append(f"{word} {segment[i + 1]}")
                i += 2
            else:
                groups.append(word)
                i += 1
        current = indent if lines else ""
        for group in groups:
            if current.strip() and len(current) + 1 + len(group) > width:
                lines.append(current)
                current = indent + group
            else:
                current = f"{current} {group}" if current.strip() else current + group
        lines.append(current)
    return " \\\n".join(lines)
