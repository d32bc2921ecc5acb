"""Model clients: an OpenAI-compatible chat endpoint over HTTP, and a local Hugging Face model.

``OpenAIClient`` speaks ``POST {base_url}/chat/completions`` (vLLM, llama.cpp, Ollama, hosted
APIs) with the standard library only: a timeout per request, retries with exponential backoff
(``delay * 2**attempt``, at most ``max_retries`` retries) on connection errors, time-outs, HTTP
429 and 5xx and malformed replies; after the last retry the step gets an empty completion with
``error`` set (the agent then counts an invalid action), so a run never crashes on a flaky
server. HTTP 401/403 (a bad key) and an unreachable server at start-up (``check``) are one clear
error instead. The key is read from an environment variable (``--api-key-env``) and never logged
or written. Token counts come from the reply's ``usage``.

``HFClient`` runs a local model directory (or a cached hub id) in-process with
``papertools.core.models.load_causal_lm``: the tokenizer's chat template when it has one, else
"role: content" lines; sampling with a torch generator seeded per call, so a fixed seed gives
the same completions.

Replies are kept whole for the agent to parse (a reasoning model's answer comes last), but
what a caller stores is capped: ``cap_reply`` keeps the first ``MAX_REPLY_CHARS`` characters
and says whether it cut, so one runaway completion cannot fill a disk.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from papertools.core.errors import PapertoolsError


MAX_REPLY_CHARS = 16_384  # characters of a reply stored per step (about 4,000 tokens)


def cap_reply(text: str, limit: int = MAX_REPLY_CHARS) -> tuple[str, bool]:
    """(the first ``limit`` characters of ``text``, whether it was longer); 0: no limit."""
    if limit and len(text) > limit:
        return text[:limit], True
    return text, False


class ClientError(PapertoolsError):
    """A failure no retry can fix: a bad key, an unreachable server, a missing model."""


@dataclass
class Reply:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""  # set when every retry failed: the completion counts as invalid
    retries: int = 0


class NullClient:
    """For agents that need no model (random, bot)."""

    name = "none"

    def check(self) -> None:
        pass

    def complete(self, messages, seed: int = 0) -> Reply:  # pragma: no cover - never called
        raise ClientError("this agent needs a model client (--client openai or hf)")


class OpenAIClient:
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 60.0, max_retries: int = 5, delay: float = 2.0,
                 temperature: float | None = 1.0, max_tokens: int = 1024, sleep=time.sleep):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.delay = delay
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.sleep = sleep

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _request(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method,
                                         headers=self._headers())
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return response.status, response.read()

    def _refused(self, code: int) -> ClientError:
        where = f"${self.api_key_env}" if self.api_key_env else "no key"
        return ClientError(f"{self.base_url} refused the request (HTTP {code}): check the key "
                           f"({where}) and the model name {self.model!r}")

    def check(self) -> None:
        """One request before the run: an unreachable server or a refused key is an error."""
        try:
            self._request("GET", "/models")
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                raise self._refused(err.code) from None
            # 404 and others: the server lacks /models; the chat endpoint may still work
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ClientError(f"cannot reach the model server at {self.base_url}: {reason}") \
                from None

    def complete(self, messages: list[dict], seed: int = 0) -> Reply:
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "seed": int(seed) % (2 ** 31)}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.sleep(self.delay * 2 ** (attempt - 1))
            try:
                status, raw = self._request("POST", "/chat/completions", body)
                reply = json.loads(raw)
                text = reply["choices"][0]["message"]["content"]
                if not isinstance(text, str):
                    raise ValueError("content is not a string")
                usage = reply.get("usage") or {}
                return Reply(text, int(usage.get("prompt_tokens") or 0),
                             int(usage.get("completion_tokens") or 0), retries=attempt)
            except urllib.error.HTTPError as err:
                if err.code in (401, 403):
                    raise self._refused(err.code) from None
                if err.code == 404:
                    raise ClientError(f"{self.base_url}/chat/completions: HTTP 404 (is the "
                                      "base URL right, e.g. http://host:8000/v1?)") from None
                last = f"HTTP {err.code}"
            except (socket.timeout, TimeoutError):
                last = f"timed out after {self.timeout:g} s"
            except (urllib.error.URLError, ConnectionError, OSError) as err:
                last = f"connection failed: {getattr(err, 'reason', err)}"
            except (ValueError, KeyError, IndexError, TypeError) as err:
                last = f"malformed reply: {err}"
        return Reply("", error=f"{last} ({self.max_retries} retries)", retries=self.max_retries)


def png_data_url(image) -> str:
    """An RGB array as a ``data:image/png;base64`` URL (OpenAI's image_url content part)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def with_image(text: str, image) -> list | str:
    """A message's content: the text, and the image as a second part when there is one."""
    if image is None:
        return text
    return [{"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": png_data_url(image)}}]


_MODELS: dict = {}  # (path, device, dtype) -> (model, tokenizer): one load per process


class HFClient:
    name = "hf"

    def __init__(self, model: str, device: str = "cpu", dtype: str = "auto",
                 temperature: float | None = 1.0, max_tokens: int = 64):
        self.model_name = model
        self.device = device
        self.dtype = dtype
        self.temperature = temperature
        self.max_tokens = max_tokens

    def check(self) -> None:
        self._load()

    def _load(self):
        key = (self.model_name, self.device, self.dtype)
        if key not in _MODELS:
            from papertools.core.models import load_causal_lm

            model, tokenizer = load_causal_lm(self.model_name, device=self.device,
                                              dtype=self.dtype)
            model.eval()
            _MODELS[key] = (model, tokenizer)
        return _MODELS[key]

    def prompt_text(self, tokenizer, messages: list[dict]) -> str:
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    def complete(self, messages: list[dict], seed: int = 0, max_tokens: int | None = None,
                 temperature: float | None = -1.0) -> Reply:
        """One completion; ``max_tokens`` and ``temperature`` override the client's own (the
        server passes a request's); a temperature of 0 or None is greedy."""
        import torch

        max_tokens = max_tokens or self.max_tokens
        temperature = self.temperature if temperature == -1.0 else temperature
        model, tokenizer = self._load()
        text = self.prompt_text(tokenizer, messages)
        ids = tokenizer(text, return_tensors="pt").input_ids
        limit = getattr(model.config, "n_positions", None) or getattr(
            model.config, "max_position_embeddings", 2048)
        ids = ids[:, -max(1, limit - max_tokens):].to(model.device)
        sample = bool(temperature)
        generator_seed = int(seed) % (2 ** 63)
        torch.manual_seed(generator_seed)
        with torch.no_grad():
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                do_sample=sample, temperature=temperature if sample else None,
                top_p=None, top_k=None,
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                else tokenizer.eos_token_id)
        new = out[0, ids.shape[1]:]
        return Reply(tokenizer.decode(new, skip_special_tokens=True), int(ids.shape[1]),
                     int(new.shape[0]))


def make_client(kind: str, *, model: str | None = None, base_url: str | None = None,
                api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                max_retries: int = 5, delay: float = 2.0, temperature: float | None = 1.0,
                max_tokens: int = 1024, device: str = "cpu"):
    if kind == "none":
        return NullClient()
    if not model:
        raise ClientError(f"--client {kind} needs --model")
    if kind == "openai":
        return OpenAIClient(base_url or "http://127.0.0.1:8000/v1", model, api_key_env,
                            timeout, max_retries, delay, temperature, max_tokens)
    if kind == "hf":
        return HFClient(model, device=device, temperature=temperature, max_tokens=max_tokens)
    raise ClientError(f"unknown client {kind!r} (choose from openai, hf, none)")
