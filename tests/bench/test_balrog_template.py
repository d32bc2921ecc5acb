"""examples/bench/balrog_template.py reads the texts out of a BALROG-shaped source tree (built
here with made-up texts in BALROG's code shapes) into a template bench run accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from papertools.cli.bench.agents import ChatAgent, load_template
from papertools.core.envs import make_text_env

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "bench" / "balrog_template.py"

AGENT = '''
class A:
    def act(self, obs):
        {name} = """
{text}
        """.strip()
        messages[-1].content += "\\n\\n" + {name}
'''
EVALUATOR = '''
def run_episode(self):
    for step in range(3):
        obs["text"]["long_term_context"] = (
            f"\\n\\nBAD {action} OUTPUT\\n\\nObservation:\\n"
            + obs["text"]["long_term_context"]
            if (action != response.completion) and (self.config.eval.feedback_on_invalid_action)
            else obs["text"]["long_term_context"]
        )
'''
BABYAI = '''
def get_instruction_prompt(env, mission="x"):
    action_strings = ",\\n".join(f"{a}: {d}" for a, d in ACTIONS.items())
    instruction_prompt = f"""
Go {mission} {{literal}} with
{action_strings}.
GO!
""".strip()
    return instruction_prompt
'''
TEXTWORLD = '''
prompts = dict(
    coin_collector="""
    Find the coin.
    """,
    treasure_hunter="""Hunt.""",
)
'''


def make_tree(root: Path) -> None:
    files = {
        "agents/naive.py": AGENT.format(name="naive_instruction", text="NAIVE TEXT"),
        "agents/few_shot.py": AGENT.format(name="naive_instruction", text="FEW TEXT"),
        "agents/chain_of_thought.py": AGENT.format(name="cot_instructions", text="COT\nTEXT"),
        "agents/robust_naive.py": AGENT.format(name="naive_instruction", text="<|ACTION|>X"),
        "agents/robust_cot.py": AGENT.format(name="cot_instructions", text="RC"),
        "evaluator.py": EVALUATOR,
        "environments/babyai_text/__init__.py": BABYAI,
        "environments/textworld/__init__.py": TEXTWORLD,
    }
    for name, text in files.items():
        path = root / "balrog" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_template_from_a_balrog_tree(tmp_path):
    make_tree(tmp_path / "B")
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "B")],
                         capture_output=True, text=True, check=True)
    template = json.loads(run.stdout)
    assert template["suffix"] == {"naive": "NAIVE TEXT", "few_shot": "FEW TEXT",
                                  "cot": "COT\nTEXT", "robust_naive": "<|ACTION|>X",
                                  "robust_cot": "RC"}
    assert template["invalid_feedback"] == "\n\nBAD {action} OUTPUT\n\nObservation:\n"
    assert template["instruction"]["babyai"] == "Go {mission} {literal} with\n{actions}.\nGO!"
    assert template["instruction"]["textworld/coin_collector"] == "Find the coin."
    assert "instruction of nle" in run.stderr  # absent here: named, papertools' text stays
    path = tmp_path / "t.json"
    path.write_text(run.stdout)
    loaded = load_template(str(path))
    env = make_text_env("babyai/goto", seed=0)
    obs = env.reset()
    agent = ChatAgent("cot", None, template=loaded)
    agent.reset(env, 0)
    messages = agent.messages(obs)
    assert messages[0]["content"] == (f"Go {env.mission} {{literal}} with\n"
                                      f"{env.action_list_text()}.\nGO!")
    assert messages[-1]["content"].endswith("\n\nCOT\nTEXT")
    assert loaded.feedback("go forward") == "\n\nBAD go forward OUTPUT\n\nObservation:\n"


def test_usage_error(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True,
                         text=True)
    assert run.returncode == 2 and "usage" in run.stderr
