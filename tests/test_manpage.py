"""The man pages: generated from the click commands, committed in man/, never stale."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from papertools.cli.main import TOOLS, cli
from papertools.cli import manpage
from papertools.cli.manpage import TOOL_SECTIONS, escape, escape_code, main, render_all, split_help

MAN = Path(__file__).resolve().parents[1] / "man"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return render_all()


def _sections(page: str) -> list[str]:
    return [m.group(1).strip('"') for m in re.finditer(r"^\.SH (.+)$", page, re.MULTILINE)]


def _section_text(page: str, title: str) -> str:
    """The roff source of one .SH section."""
    parts = re.split(r"^\.SH ", page, flags=re.MULTILINE)
    for part in parts[1:]:
        head, _, body = part.partition("\n")
        if head.strip('"') == title:
            return body
    raise AssertionError(f"no section {title}")


def _tool_commands(name: str) -> list[tuple[click.Command, click.Context]]:
    root_ctx = click.Context(cli, info_name="papertools")
    command = cli.get_command(root_ctx, name)
    return manpage._walk(command, click.Context(command, info_name=name, parent=root_ctx,
                                                **command.context_settings))


def test_man_folder_is_up_to_date(pages):
    problems = manpage.stale(MAN, pages)
    assert not problems, ("man/ is out of date; run `make man` "
                          "(python -m papertools.cli.manpage man):\n" + "\n".join(problems))


def test_pages_cover_root_every_tool_and_the_conventions(pages):
    expected = {"papertools.1", "papertools-jsonl.7"} | {f"papertools-{t}.1" for t in TOOLS}
    assert set(pages) == expected


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_tool_page_has_every_section_in_order(pages, tool):
    page = pages[f"papertools-{tool}.1"]
    assert page.startswith(f'.TH PAPERTOOLS-{tool.upper()} 1 "" "papertools" "papertools manual"\n')
    assert _sections(page) == list(TOOL_SECTIONS)
    for title in TOOL_SECTIONS:
        assert _section_text(page, title).strip(), f"{tool}: empty {title}"


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_tool_page_follows_the_click_commands(pages, tool):
    page = pages[f"papertools-{tool}.1"]
    synopsis, options = _section_text(page, "SYNOPSIS"), _section_text(page, "OPTIONS")
    description, examples = _section_text(page, "DESCRIPTION"), _section_text(page, "EXAMPLES")
    for command, ctx in _tool_commands(tool):
        assert f".B {escape_code(ctx.command_path)}\n" in synopsis
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts + param.secondary_opts:
                    assert f"\\fB{escape_code(opt)}\\fR" in options, (ctx.command_path, opt)
        _, example_lines = split_help(command.help)
        assert example_lines, f"{ctx.command_path}: the docstring has no \\b Examples block"
        for line in example_lines:
            assert manpage._literal_line(line) in examples.splitlines()
            assert escape_code(line.strip()) not in description
    assert "Examples:" not in description


def test_records_and_see_also_come_from_the_command(pages):
    for tool in TOOLS:
        page = pages[f"papertools-{tool}.1"]
        command = _tool_commands(tool)[0][0]
        first = next(p for p in re.split(r"\n\s*\n", command.records) if p.strip())
        assert escape(" ".join(first.split())) in _section_text(page, "RECORDS")
        for ref in command.see_also:
            assert manpage.manref(ref) in _section_text(page, "SEE ALSO")


def test_root_page_lists_tools_and_global_options(pages):
    page = pages["papertools.1"]
    for name in TOOLS:
        assert f".TP\n\\fB{escape_code(name)}\\fR\n" in page
    for opt in ("--version", "--debug", "--help"):
        assert f"\\fB{escape_code(opt)}\\fR" in _section_text(page, "OPTIONS")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES", "EXIT STATUS",
                    "SEE ALSO"):
        assert section in _sections(page)


def test_jsonl_page_states_the_conventions(pages):
    text = pages["papertools-jsonl.7"]
    for needle in ("\\fB.gz\\fR", "\\fBid\\fR", "\\fBsource_id\\fR", "\\fB\\-\\-on\\-error skip\\fR",
                   "\\fB\\-\\-strict\\fR", "\\fBPATH.partial\\fR", "\\fB| head\\fR", "\\fB\\-\\-seed\\fR"):
        assert needle in text
    exit_status = _section_text(text, "EXIT STATUS")
    assert [m for m in re.findall(r"^\.TP\n(\d+)$", exit_status, re.MULTILINE)] == \
        ["0", "1", "2", "130"]


def test_rendering_is_deterministic(pages):
    assert render_all() == pages
    for text in pages.values():
        assert text.endswith("\n") and "\r" not in text
        for line in text.splitlines():
            # no text line may start like a roff request unless it is one
            assert not line.startswith("'"), line
            assert not line.startswith(" "), line


def test_escaping():
    assert escape_code("--on-error") == "\\-\\-on\\-error"
    assert escape("an insertion-only edit, see --allow-initial-errors") == \
        "an insertion-only edit, see \\-\\-allow\\-initial\\-errors"
    assert escape('"\\n" and it\'s') == '"\\en" and it\\(aqs'
    assert escape("see papertools-jsonl(7).") == "see \\fBpapertools\\-jsonl\\fR(7)."
    assert manpage._line(".hidden dot") == "\\&.hidden dot"
    assert manpage._literal_line("  .x -y") == "  .x \\-y"
    assert manpage._literal_line(".x") == "\\&.x"


def test_split_help_moves_the_examples_block():
    text = """Summary line.

    Long text
    over two lines.

    \b
    kept
      verbatim

    \b
    Examples:
      tool run -x
      tool run -y
    \f
    private
    """
    blocks, examples = split_help(text)
    assert blocks == [("text", ["Summary line."]), ("text", ["Long text over two lines."]),
                      ("literal", ["kept", "  verbatim"])]
    assert examples == ["tool run -x", "tool run -y"]


def test_check_mode_reports_and_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "man"
    assert main([str(folder), "--check"]) == 1
    assert not folder.exists()
    assert "missing" in capsys.readouterr().err
    assert main([str(folder)]) == 0
    assert main([str(folder), "--check"]) == 0
    page = folder / "papertools.1"
    page.write_text(page.read_text() + ".\\\" edited\n")
    (folder / "papertools-gone.1").write_text("old\n")
    (folder / "README").write_text("not a page\n")
    assert main([str(folder), "--check"]) == 1
    err = capsys.readouterr().err
    assert "papertools.1: stale" in err and "papertools-gone.1" in err and "make man" in err
    assert page.read_text().endswith("edited\n")
    assert main([str(folder)]) == 0
    assert not (folder / "papertools-gone.1").exists() and (folder / "README").exists()
    assert main([str(folder), "--check"]) == 0


def test_generator_imports_no_heavy_libraries():
    code = ("import sys; import papertools.cli.manpage as m; m.render_all(); "
            "print(sorted({k.split('.')[0] for k in sys.modules} & {'torch', 'transformers', 'nle'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("name", sorted(render_all()))
def test_groff_renders_without_warnings(name):
    path = MAN / name
    if not path.is_file():
        pytest.skip("man/ is stale; see test_man_folder_is_up_to_date")
    # A very long line length: no filling, no hyphenation, so the text can be searched.
    result = subprocess.run(["groff", "-man", "-Tascii", "-ww", "-rLL=2000n", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    text = re.sub(r".\x08", "", result.stdout)  # overstrike bold/underline
    page = path.read_text()
    for title in _sections(page):
        assert re.search(rf"^{re.escape(title)}$", text, re.MULTILINE), title
    if name.endswith(".1") and name != "papertools.1":
        tool = name[len("papertools-"):-2]
        for command, ctx in _tool_commands(tool):
            assert ctx.command_path in text
            for param in command.params:
                if isinstance(param, click.Option) and not param.hidden:
                    for opt in param.opts:
                        assert opt in text, opt
            for line in split_help(command.help)[1]:
                assert line.strip() in text, line


def test_any_registered_tool_gets_a_page(monkeypatch):
    """No special cases: a single-command tool and a nested group render from TOOLS alone."""
    import types

    from papertools.cli import main as root

    @click.command()
    @click.option("-n", "--count", type=int, default=3, show_default=True, help="How many.")
    @click.option("--secret", hidden=True)
    def single(count, secret):
        """Do one thing.

        It does it well.

        \b
        Examples:
          papertools single -n 2 < in.jsonl
        """

    single.records = "Reads \"x\", writes \"y\"."

    @click.group()
    def nested():
        """A group of groups."""

    @nested.group()
    def inner():
        """Inner group.

        \b
        Examples:
          papertools nested inner leaf
        """

    @inner.command()
    def leaf():
        """A leaf.

        \b
        Examples:
          papertools nested inner leaf --help
        """

    module = types.ModuleType("papertools_fake_tools")
    module.single, module.nested = single, nested
    monkeypatch.setitem(sys.modules, "papertools_fake_tools", module)
    monkeypatch.setitem(root.TOOLS, "single", ("papertools_fake_tools", "single", "One thing."))
    monkeypatch.setitem(root.TOOLS, "nested", ("papertools_fake_tools", "nested", "Groups."))
    pages = render_all()
    page = pages["papertools-single.1"]
    assert _sections(page) == list(TOOL_SECTIONS)
    assert "papertools\\-single \\- Do one thing\n" in page
    assert "\\fB\\-n\\fR, \\fB\\-\\-count\\fR \\fIINTEGER\\fR" in page and "secret" not in page
    assert "papertools single \\-n 2 < in.jsonl" in _section_text(page, "EXAMPLES")
    nested_page = pages["papertools-nested.1"]
    assert ".SS \"papertools nested inner leaf\"" in _section_text(nested_page, "EXAMPLES")
    assert ".B papertools nested inner leaf\n" in _section_text(nested_page, "SYNOPSIS")
    assert "\\fBpapertools\\-single\\fR(1)" in pages["papertools.1"]
    assert "\\fBpapertools\\-nested\\fR(1)" in pages["papertools-jsonl.7"]
