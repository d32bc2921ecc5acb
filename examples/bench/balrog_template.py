#!/usr/bin/env python
"""Write a ``bench run --prompt-template`` file holding BALROG's own texts, read from a BALROG
checkout (github.com/balrog-ai/BALROG; papertools follows the structure of commit af7d1f1).

    git clone https://github.com/balrog-ai/BALROG && git -C BALROG checkout af7d1f1
    python examples/bench/balrog_template.py BALROG > balrog.json
    papertools bench run --env babyai --agent naive --prompt-template balrog.json ...

Nothing of BALROG's text is in papertools: this script parses BALROG's source with ``ast`` and
copies the strings it finds:

- the agents' output instructions (suffixes): the string assigned to ``naive_instruction`` or
  ``cot_instructions`` in ``balrog/agents/{naive,chain_of_thought,robust_naive,robust_cot,
  few_shot}.py`` (stripped, as BALROG strips them);
- the feedback after an invalid output: the f-string that ``balrog/evaluator.py`` puts before
  ``long_term_context`` (``{action}`` kept);
- the instructions: the f-string of ``get_instruction_prompt`` in each
  ``balrog/environments/<env>/__init__.py`` (stripped), with ``{action_strings}`` renamed
  ``{actions}``, and ``{mission}`` and ``{goal}`` kept; TextWorld's per-task texts
  (``textworld/<task>``). The placeholders are filled with papertools' environments' values
  (their action descriptions and MiniHack goal sentences are papertools' own wording).

A string the script cannot find is left out (papertools' own text is used there) and named on
stderr.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

AGENT_FILES = {"naive": "naive.py", "few_shot": "few_shot.py", "cot": "chain_of_thought.py",
               "robust_naive": "robust_naive.py", "robust_cot": "robust_cot.py"}
SUFFIX_NAMES = ("naive_instruction", "cot_instructions")
ENV_DIRS = {"babyai": "babyai_text", "crafter": "crafter", "babaisai": "babaisai",
            "minihack": "minihack", "nle": "nle"}
RENAME = {"action_strings": "actions", "mission": "mission", "goal": "goal"}


def literal(node) -> str | None:
    """A string constant, or ``"..."`` + ``.strip()``: its text (stripped when BALROG strips)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "strip" and not node.args:
        inner = literal(node.func.value)
        return inner.strip() if inner is not None else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return fstring(node)
    return None


def fstring(node: ast.JoinedStr) -> str | None:
    """An f-string as a template: ``{name}`` for each known variable, literal braces kept."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value)
        elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
            name = value.value.id
            parts.append("{" + RENAME.get(name, name) + "}")
        else:
            return None
    return "".join(parts)


def assigned(tree, names) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names
                                                for t in node.targets):
            return literal(node.value)
    return None


def feedback(tree) -> str | None:
    """The f-string in ``x["text"]["long_term_context"] = (f"..." + ... if ... else ...)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.IfExp):
            target = ast.unparse(node.targets[0])
            body = node.value.body
            if "long_term_context" in target and isinstance(body, ast.BinOp) \
                    and isinstance(body.left, ast.JoinedStr):
                return fstring(body.left)
    return None


def instruction(tree) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "get_instruction_prompt":
            return assigned(node, ("instruction_prompt",))
    return None


def textworld(tree) -> dict:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "dict":
            found = {kw.arg: literal(kw.value) for kw in node.value.keywords}
            if found and all(isinstance(v, str) for v in found.values()):
                return {f"textworld/{k}": v.strip() for k, v in found.items()}
    return {}


def parse(path: Path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def build(root: Path) -> tuple[dict, list[str]]:
    src = root / "balrog"
    template: dict = {"instruction": {}, "suffix": {}}
    missing = []
    for agent, name in AGENT_FILES.items():
        path = src / "agents" / name
        text = assigned(parse(path), SUFFIX_NAMES) if path.exists() else None
        if text is None:
            missing.append(f"suffix of {agent} ({path})")
        else:
            template["suffix"][agent] = text
    path = src / "evaluator.py"
    text = feedback(parse(path)) if path.exists() else None
    if text is None:
        missing.append(f"invalid-output feedback ({path})")
    else:
        template["invalid_feedback"] = text
    for env, folder in ENV_DIRS.items():
        path = src / "environments" / folder / "__init__.py"
        text = instruction(parse(path)) if path.exists() else None
        if text is None:
            missing.append(f"instruction of {env} ({path})")
        else:
            template["instruction"][env] = text
    path = src / "environments" / "textworld" / "__init__.py"
    found = textworld(parse(path)) if path.exists() else {}
    if not found:
        missing.append(f"instructions of textworld ({path})")
    template["instruction"].update(found)
    return template, missing


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not (Path(argv[0]) / "balrog").is_dir():
        print("usage: balrog_template.py BALROG_CHECKOUT  (the folder holding balrog/)",
              file=sys.stderr)
        return 2
    template, missing = build(Path(argv[0]))
    for what in missing:
        print(f"balrog_template: not found, papertools' own text stays: {what}", file=sys.stderr)
    json.dump(template, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
