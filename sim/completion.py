"""Shell completion for `sim`: a bash function (zsh runs it through bashcompinit) generated from the
command-line parser, so it follows every subcommand and option as they change. `sim completion bash`
prints it; the parser is passed in, so this module imports nothing of the CLI.
"""
from __future__ import annotations

import argparse
from pathlib import Path

SCENARIO_ARGUMENTS = ("scenario", "a", "b")  # the arguments that name a scenario: a file or a shipped name

def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands by name (none: {})."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _shipped_names(package: str) -> list[str]:
    """The YAML files shipped in a package folder, by name (`stress/taiwan_outage`), without importing it."""
    from importlib import resources

    root = Path(str(resources.files(package)))
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """A bash completion function generated from the parser: subcommands, their options, shipped
    scenario names (and YAML files) for scenario arguments, topology names for --topology, folders for
    --out and DIR. zsh runs the same function through bashcompinit."""
    def words(items) -> str:
        return " ".join(sorted(items))

    commands = _subcommands(parser)
    cases = []
    for name, sub in commands.items():
        options = [o for a in sub._actions for o in a.option_strings]
        positionals = [a.dest for a in sub._actions
                       if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
        nested = _subcommands(sub)
        if any(p in SCENARIO_ARGUMENTS for p in positionals):
            values = "$scenarios"
            files = "yaml"
        elif name in ("report",):
            values, files = "", "dir"
        elif name in ("job",):
            values, files = "", "yaml"
        elif nested:
            values, files = words(nested), ""
        else:
            values = words(c for a in sub._actions if not a.option_strings and a.choices for c in a.choices)
            files = ""
        cases.append(f'        {name}) opts="{words(options)}"; values="{values}"; files="{files}" ;;')
        for inner, inner_parser in nested.items():
            inner_options = [o for a in inner_parser._actions for o in a.option_strings]
            cases.append(f'        {name}/{inner}) opts="{words(inner_options)}"; values="$scenarios"; files="" ;;')
    takes_value = sorted({o for sub in commands.values() for a in sub._actions if a.option_strings and a.nargs != 0
                          for o in a.option_strings})
    bash = f"""# bash completion for sim: eval "$(sim completion bash)" (or save it in your bash-completion folder)
_sim() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local commands="{words(commands)}"
    local scenarios="{' '.join(_shipped_names('sim.scenarios'))}"
    local topologies="{' '.join(_shipped_names('sim.topologies'))}"
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=( $(compgen -W "$commands --help --version" -- "$cur") )
        return
    fi
    case "$prev" in
        --out) COMPREPLY=( $(compgen -d -- "$cur") ); return ;;
        --topology) COMPREPLY=( $(compgen -W "$topologies" -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur") ); return ;;
        --job) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
        {'|'.join(o for o in takes_value if o not in ('--out', '--topology', '--job'))}) return ;;
    esac
    local command="${{COMP_WORDS[1]}}" opts values files
    [[ $COMP_CWORD -gt 2 && "$command" == scenarios && "${{COMP_WORDS[2]}}" == show ]] && command=scenarios/show
    case "$command" in
{chr(10).join(cases)}
        *) return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
        return
    fi
    COMPREPLY=( $(compgen -W "$values" -- "$cur") )
    case "$files" in
        yaml) COMPREPLY+=( $(compgen -d -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur") ) ;;
        dir) COMPREPLY+=( $(compgen -d -- "$cur") ) ;;
    esac
}}
complete -o filenames -F _sim sim"""
    if shell == "zsh":
        return ("# zsh completion for sim: eval \"$(sim completion zsh)\" (the bash function, through bashcompinit)\n"
                "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" + bash)
    return bash
