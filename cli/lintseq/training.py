"""The released code's training strings (``encode_edit_seq_with_coding_completion_format``).

Edit format: ``instruction + "\\n<|diff|>" + "\\n<|diff|>".join(edits + ["", ""])``, i.e. the
edits joined by ``"\\n<|diff|>"`` after the instruction, ending with two empty edits, then the
trainer's EOS. Baseline format: ``instruction + "\\n" + program``. Both are split where generation
starts: ``prompt`` (the instruction and the first separator; the loss is masked there) and
``completion`` (what the model learns to write). No EOS is added: each trainer appends its own
tokenizer's.
"""

from __future__ import annotations

DIFF_TOKEN = "<|diff|>"
SEPARATOR = "\n" + DIFF_TOKEN


def edit_pair(instruction: str, edits: list[str]) -> tuple[str, str]:
    """(prompt, completion) whose concatenation is the released training string without EOS."""
    return instruction + SEPARATOR, SEPARATOR.join([*edits, "", ""])


def baseline_pair(instruction: str, program: str) -> tuple[str, str]:
    return instruction + "\n", program


def reference_text(instruction: str, edits: list[str]) -> str:
    """The released string, built the released way (for tests): whitespace rule included."""
    edit_path = SEPARATOR.join([""] + edits + ["", ""])
    if not instruction.endswith((" ", "\n", "\t")) and not edit_path.startswith((" ", "\n", "\t")):
        return instruction + "\n" + edit_path
    return instruction + edit_path
