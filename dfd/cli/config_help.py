"""`--help` of dfd's Hydra commands: the groups and settings that command's config reads.

Read from the YAML files themselves (their comments are the documentation), without Hydra
or torch, so it answers at once and shows `dfd prepare` prepare's options, not training's.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from dfd.config import config_file

HIDDEN_GROUPS = {"hydra"}


def group_options(group: str) -> str:
    """The options of a config group, the YAML files of its folder."""
    return ", ".join(sorted(path.stem for path in config_file(group).glob("*.yaml")))


def groups(config_name: str) -> list[tuple[str, str]]:
    """(group, default option) of a primary config's defaults list."""
    defaults = OmegaConf.load(config_file(f"{config_name}.yaml")).get("defaults") or []
    found = []
    for entry in defaults:
        if isinstance(entry, str) or entry is None:
            continue
        for group, option in entry.items():
            group = str(group).removeprefix("override ")
            if group not in HIDDEN_GROUPS:
                found.append((group, "none" if option is None else str(option)))
    return found


def settings_text(config_name: str) -> str:
    """The primary config's text without its defaults list: the settings and their comments."""
    lines, in_defaults = [], False
    for line in config_file(f"{config_name}.yaml").read_text().splitlines():
        if line.startswith("defaults:"):
            in_defaults = True
            continue
        if in_defaults and (not line.strip() or line[0].isspace()):
            continue
        in_defaults = False
        lines.append(f"  {line}" if line else "")
    return "\n".join(lines).strip("\n")


def config_help(command: str, config_name: str, summary: str) -> str:
    """The help text of `dfd COMMAND` over conf/<config_name>.yaml."""
    width = max([len(group) for group, _ in groups(config_name)] + [5])
    listed = [
        f"  {group:<{width}}  {option} (default) | {group_options(group)}"
        for group, option in groups(config_name)
    ]
    return "\n".join(
        [
            f"usage: dfd {command} [GROUP=OPTION ...] [KEY=VALUE ...] [--debug] [HYDRA FLAGS]",
            "",
            f"{summary} (conf/{config_name}.yaml)",
            "",
            "config groups (GROUP=OPTION):",
            *listed,
            "",
            "settings (KEY=VALUE, a nested one as prepare.num_frames=16):",
            settings_text(config_name),
            "",
            f"`dfd {command} --cfg job` prints the composed config, `-m` runs a sweep, "
            f"`dfd {command} --hydra-help` lists Hydra's flags; --debug shows tracebacks.",
        ]
    )
