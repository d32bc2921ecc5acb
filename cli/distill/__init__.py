"""``papertools distill``: the command-line front end (options and help only).

The method lives in train.py (losses.py, teacher.py), students are made in student.py, queries
generated in querygen.py, unlabelled text harvested in unlabelled.py, metrics in evaluate.py
and the ablation in ablation.py. Uses only
papertools.core (models.encoders, jsonl, errors, options, progress, seed).
"""

from __future__ import annotations

import click

from papertools.core import options
from papertools.core.errors import Diagnostics, InputError, PapertoolsError, field
from papertools.core.jsonl import open_output, read_records
from papertools.core.progress import enabled, note, progress

TOOL = "distill"

RECORDS = """\
Corpus records (--corpus) carry "id" and the document text (--text-field, default "text").
Query records carry "id", the query (--query-field, default "query") and "positives" (a document
id or a list of them), and optionally "negatives" (hard negative document ids; otherwise the
teacher's top-ranked non-positives are used).

gen-queries writes unlabelled queries: "id" ("<source id>:g<k>"; "<document id>:s<k>" for
--method sentences, "<module>.<name>:d<k>" for --method docstrings), "query", "source_id",
"generated": true and "method"; never "positives" or "negatives" (a generated record with
either is bad input to train).

train writes log records: "step", "epoch", "loss" and each active part ("label", "score",
"query_emb", "doc_emb"; means since the last record), "lr", "queries_per_s". The student goes to
--out-dir as a sentence-encoder directory (loadable by any papertools encoder option, with its
pooling, projection and normalisation), with DIR/papertools.json ("document_encoder": "teacher"
for an inherited document tower, else "student"; parameter counts; the configuration) and
DIR/log.jsonl.

student writes one record: "student" (the folder), "parameters" and "teacher_parameters"
({"embedding", "non_embedding", "projection", "total", "vocab_size", "hidden", "layers"}),
"ratio" (student total / teacher total) and, with a budget, "budget" ({"max_parameters",
"min_count", "embedding_size" (null: plain embeddings), "vocab_size", "parameters"}: what it
chose).

encode writes each input record with "embedding" (a list of floats; --embedding-field).

eval and ablate write one record per model: "id" (its name), "role" ("teacher" or "student"),
"model", "mrr@10", "recall@<k>" for each -k, "queries", "documents", "parameters", and for
students "retention" (MRR@10 over the teacher's on the same queries and pool),
"retention_recall@<k>" and "paper_retention" (the paper's ratio for an ablation step)."""

SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)", "papertools-ceindex(1)"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=options.OrderedGroup, context_settings=CONTEXT)
def cli() -> None:
    """EmbedDistill: geometric distillation for retrieval (Kim et al., 2023).

    A large retrieval teacher (a dual encoder, or a cross-encoder with a dual-pooling scorer) is
    distilled into a small student by matching scores and embeddings: softmax score
    distillation over positives, hard negatives and in-batch documents; query and document
    embedding matching, through a learned projection when the widths differ; an asymmetric
    student that inherits the teacher's frozen document tower (documents embedded once); and
    queries generated from the training queries, or harvested as unlabelled query-like text
    (sentences of training documents, docstrings of installed packages) for embedding
    matching. Students are saved as sentence encoders.

    \b
    Examples:
      papertools distill gen-queries examples/distill/tiny/train.jsonl.gz -n 1 | head -n 2
      papertools distill --help
    """


cli.records = RECORDS
cli.see_also = SEE_ALSO


def _texts_of(files) -> list[str]:
    """Every "text" and "query" string of the records in ``files`` (for vocabulary pruning)."""
    out = []
    for item in read_records(files):
        for name in ("text", "query"):
            if isinstance(item.record.get(name), str):
                out.append(item.record[name])
    return out


@cli.command()
@click.option("--teacher", default="minilm", show_default=True, metavar="DIR",
              help="The teacher encoder: a sentence-encoder directory, or minilm (packaged).")
@options.out_dir(required=True, help="Where the student encoder is written.")
@click.option("--layers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Teacher layers kept, evenly spaced, ending with the last.")
@options.list_option("--layer-map", convert=int, minimum=0, metavar="I[,J...]",
                     help="Keep exactly these teacher layers (0,5, MiniLM's first and last, "
                          "started a 2-layer student better than the evenly spaced 2,5 in the "
                          "benchmark).")
@click.option("--hidden", type=click.IntRange(min=8), default=None,
              help="Student width (a multiple of the head size); default the teacher's.")
@click.option("--intermediate", type=click.IntRange(min=8), default=None,
              help="Feed-forward width; default the teacher's, scaled with the width.")
@click.option("--vocab-from", "vocab_from", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Prune the vocabulary to the tokens of these records' text and query fields "
                   "(the corpus and training queries; never the test queries). Repeatable.")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --vocab-from: keep only tokens those texts use at least this often "
                   "(rare words then split into shorter kept pieces, and queries holding them "
                   "lose most: `distill eval` reports them).")
@click.option("--basis", type=click.Choice(["words", "activations"]), default="words",
              show_default=True,
              help="A narrower student's residual-stream basis: the top principal directions "
                   "of the teacher's word embeddings, or of its hidden states on 1,000 of the "
                   "--vocab-from texts (a closer start).")
@click.option("--embedding-size", type=click.IntRange(min=8), default=None,
              help="Factorise the embeddings (ALBERT's): tokens live in this many dimensions, "
                   "mapped up to the stream, so a vocabulary costs less and the budget can go "
                   "to width or depth. The student is then an ALBERT encoder.")
@click.option("--head-size", type=click.IntRange(min=1), default=None,
              help="With --embedding-size: narrow every attention head to this many "
                   "dimensions (each head a whitened low-rank copy of the teacher's), so the "
                   "attention block costs heads x size instead of the width per stream "
                   "dimension; the student is then a papertools-narrow-albert encoder.")
@click.option("--dropout", type=click.FloatRange(0, 1), default=None,
              help="The student's dropout (hidden and attention); default the teacher's.")
@click.option("--max-positions", type=click.IntRange(min=8), default=None,
              help="Position embeddings kept (the longest input).")
@click.option("--max-ratio", type=click.FloatRange(0, 1, min_open=True), default=None,
              metavar="R",
              help="A parameter budget: at most R x the teacher's parameters. The shape options "
                   "fix the layers and widths; the vocabulary cut (from --min-count up) and the "
                   "embedding size (unless --embedding-size is given) are chosen to fit: every "
                   "token kept and the largest embeddings that fit, down to 32 dimensions, and "
                   "only then rare tokens dropped. The choice is printed.")
@click.option("--max-parameters", type=click.IntRange(min=1), default=None, metavar="N",
              help="A parameter budget of at most N parameters (as --max-ratio).")
@click.option("--config", "config_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Build a randomly initialised BERT of this config.json's shape instead.")
@options.seed
@options.quiet
def student(teacher, out_dir, layers, layer_map, hidden, intermediate, vocab_from, min_count,
            basis, embedding_size, head_size, dropout, max_positions, max_ratio, max_parameters,
            config_path, seed, quiet):
    """Make a student query tower from the teacher (or from a config).

    A truncated copy of a BERT teacher: --layers of its layers, --hidden wide (the teacher
    seen through the top principal directions of its word embeddings or, with --basis
    activations, of its hidden states, with a projection back to the teacher's width,
    initialised to match), and the vocabulary pruned to the tokens of --vocab-from records
    (those used at least --min-count times). --embedding-size factorises the embeddings
    (ALBERT's), which is what pays for a student at the teacher's full width: on the
    benchmark's docstrings, 2 of MiniLM's layers at 384 wide with 64-dimensional embeddings
    over every corpus token (--layer-map 0,5 --intermediate 380 --embedding-size 64) beat 2
    layers cut to 192 wide at the same 1/10 of the parameters; dropping rare tokens
    (--min-count 3) cost more than it saved. --head-size narrows the attention heads instead
    (a third layer for the same budget; no better there). With --config, a random BERT of that
    shape. Prints the parameter counts, embedding and non-embedding, against the teacher's.

    The pruned vocabulary grows with the corpus, so a fixed shape is a fixed size on one
    corpus only: --max-ratio 0.1 keeps the student within a tenth of the teacher on any corpus,
    choosing the vocabulary cut and the embedding size (on the benchmark's docstrings, with
    --layer-map 0,5 --intermediate 380 --max-positions 128, it chooses every token and
    64-dimensional embeddings: the goal student).

    \b
    Examples:
      papertools distill student --layers 1 --hidden 64 --out-dir /tmp/distill-student --vocab-from examples/distill/tiny/corpus.jsonl.gz -q
      papertools distill student --layer-map 0,5 --intermediate 380 --embedding-size 64 --out-dir /tmp/distill-student-albert --vocab-from examples/distill/tiny/corpus.jsonl.gz -q
      papertools distill student --layer-map 0,2,5 --intermediate 256 --embedding-size 64 --head-size 16 --out-dir /tmp/distill-student-narrow --vocab-from examples/distill/tiny/corpus.jsonl.gz -q
      papertools distill student --layer-map 0,5 --intermediate 380 --max-positions 128 --max-ratio 0.1 --out-dir /tmp/distill-student-budget --vocab-from examples/distill/tiny/corpus.jsonl.gz -q
    """
    from pathlib import Path

    from papertools.core.models.encoders import load_encoder
    from papertools.core.seed import seed_everything

    from .student import (cut_student, fit_budget, from_config, parameter_counts,
                          student_shape, token_counts)

    import torch

    if max_ratio is not None and max_parameters is not None:
        raise click.UsageError("give one budget: --max-ratio or --max-parameters")
    budgeted = max_ratio is not None or max_parameters is not None
    if budgeted and config_path:
        raise click.UsageError("a budget (--max-ratio, --max-parameters) cuts a student from the "
                               "teacher; --config gives the shape itself")
    seed_everything(seed)
    t = load_encoder(teacher)
    tcounts = parameter_counts(t)
    texts = _texts_of(vocab_from) if vocab_from else None
    plan = None
    if budgeted:
        limit = max_parameters if max_parameters is not None else int(max_ratio * tcounts["total"])
        shape = student_shape(t, layers=layers, layer_map=list(layer_map) or None, hidden=hidden,
                              intermediate=intermediate, max_positions=max_positions,
                              head_size=head_size)
        counts = token_counts(t.tokenizer, texts, t.max_length) if texts else None
        plan = fit_budget(shape, limit, tokenizer=t.tokenizer, counts=counts,
                          vocab_size=len(t.tokenizer), min_count=min_count,
                          embedding_size=embedding_size)
        min_count, embedding_size = plan["min_count"], plan["embedding_size"]
        plan = dict(plan, max_parameters=limit)
        note(TOOL, f"budget {limit:,} parameters: chose --min-count {min_count} "
                   f"({plan['vocab_size']:,} tokens) and "
                   + (f"--embedding-size {embedding_size}" if embedding_size
                      else "plain embeddings (no --embedding-size)"), quiet=quiet)
    if config_path:
        s = from_config(config_path, t, vocab_texts=texts, seed=seed, min_count=min_count)
    else:
        chosen = list(layer_map) or None
        if basis == "activations" and not texts:
            raise click.UsageError("--basis activations reads the --vocab-from texts")
        sample = None
        if basis == "activations":
            import random

            sample = random.Random(seed).sample(texts, min(1000, len(texts)))
        torch.manual_seed(seed)
        s = cut_student(t, layers=layers, layer_map=chosen, hidden=hidden,
                        intermediate=intermediate, vocab_texts=texts, max_positions=max_positions,
                        min_count=min_count, dropout=dropout, basis_texts=sample,
                        embedding_size=embedding_size, head_size=head_size)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    counts = parameter_counts(s)
    if plan and counts["total"] > plan["max_parameters"]:  # the prediction is exact; never here
        raise PapertoolsError(f"the student has {counts['total']:,} parameters, over the budget "
                              f"of {plan['max_parameters']:,}")
    s.save(out_dir)
    record = {"student": out_dir, "parameters": counts, "teacher_parameters": tcounts,
              "ratio": round(counts["total"] / tcounts["total"], 4)}
    if plan:
        record["budget"] = plan
    with open_output(None) as out:
        out.write(record)
    note(TOOL, f"student: {counts['total']:,} parameters ({counts['embedding']:,} embedding, "
               f"{counts['non_embedding']:,} non-embedding, {counts['projection']:,} projection)"
               f" = {counts['total'] / tcounts['total']:.3f} of the teacher's "
               f"{tcounts['total']:,}; in {out_dir}", quiet=quiet)


@cli.command("gen-queries")
@options.inputs
@options.output
@click.option("--method", type=click.Choice(["perturb", "seq2seq", "sentences", "docstrings"]),
              default="perturb", show_default=True,
              help="Word-level perturbation or a local seq2seq model (of each input query); "
                   "sentences: the sentences of the input queries' positive documents "
                   "(needs --corpus); docstrings: first sentences of the docstrings of the "
                   "installed --package (FILE arguments are not read).")
@click.option("--model", metavar="DIR", help="With --method seq2seq: a T5/BART directory.")
@click.option("--corpus", "corpus_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Document records: the documents of --method sentences; with --exclude, "
                   "texts found in a held-out query's document are dropped too. Repeatable.")
@options.list_option("--package", "packages", metavar="NAME[,NAME...]",
                     help="With --method docstrings: installed packages to read (parsed, never "
                          "imported); not those of the evaluation set.")
@options.alias("--packages", to="packages", new="--package", multiple=True,
               callback=options.list_callback())
@click.option("-n", "--samples", "per_query", type=click.IntRange(min=1), default=2,
              show_default=True, help="Generated queries per input query.")
@options.alias("--per-query", to="per_query", new="-n/--samples", type=click.IntRange(min=1))
@click.option("--exclude", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Held-out query records: a query among them is never a source, and a "
                   "generated query equal to one is dropped. Repeatable.")
@click.option("--p-drop", type=click.FloatRange(0, 1), default=0.15, show_default=True)
@click.option("--p-replace", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--p-swap", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="seq2seq sampling temperature.")
@options.field_name("query", "query", "Field holding the query.")
@options.device(help="seq2seq: auto (the first CUDA GPU, else the CPU), cpu, cuda, cuda:N.")
@options.seed
@options.on_error
@options.quiet
@click.pass_context
def gen_queries(ctx, files, output, method, model, corpus_files, packages, per_query, exclude,
                p_drop, p_replace, p_swap, temperature, query_field, device, seed, on_error,
                quiet):
    """Generate unlabelled queries from training queries (or harvest query-like text).

    Each input query gives --samples new ones, by perturbation (words dropped, replaced by
    words of other queries, swapped) or by a local seq2seq model that infills a masked span.
    --method sentences gives every sentence of the input (training) queries' positive
    documents, and --method docstrings the first sentence of every docstring of the installed
    --package: unlabelled query-like text in bulk, for query embedding matching.
    Output records carry no labels: distillation uses them through the teacher only. Duplicates,
    copies of their source and copies of --exclude queries are dropped; with --corpus, so are
    texts found inside an --exclude query's document, and such documents are never read.

    \b
    Examples:
      papertools distill gen-queries examples/distill/tiny/train.jsonl.gz -n 2 --exclude examples/distill/tiny/test.jsonl.gz -o /tmp/distill-gen.jsonl
      papertools distill gen-queries examples/distill/tiny/train.jsonl.gz --method sentences --corpus examples/distill/tiny/corpus.jsonl.gz --exclude examples/distill/tiny/test.jsonl.gz -q | head -n 2
      papertools distill gen-queries --method docstrings --package tqdm --exclude examples/distill/tiny/test.jsonl.gz -q | head -n 2
    """
    from .querygen import QueryMaker, Seq2SeqGenerator, held_out, read_sources

    if method == "seq2seq" and not model:
        raise click.UsageError("--method seq2seq needs --model DIR")
    if method == "sentences" and not corpus_files:
        raise click.UsageError("--method sentences needs --corpus FILE")
    if method == "docstrings" and not packages:
        raise click.UsageError("--method docstrings needs --package NAME[,NAME...]")
    if method in ("sentences", "docstrings"):
        _harvest(ctx, files, output, method, corpus_files, packages, exclude, query_field,
                 on_error, quiet)
        return
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    held_ids, held_texts = held_out(read_records(list(exclude)), query_field)
    sources = read_sources(read_records(files, diag), query_field, held_ids, held_texts, diag)
    generator = None
    if method == "seq2seq":
        from papertools.core.models import resolve_device

        generator = Seq2SeqGenerator(model, device=str(resolve_device(device)),
                                     temperature=temperature)
    maker = QueryMaker(sources, held_texts, per_query, seed, generator, p_drop, p_replace,
                       p_swap)
    made = 0
    with open_output(output, tool=TOOL) as out:
        for index, rid, text in progress(sources, desc="distill gen-queries", quiet=quiet):
            for k, new in maker.queries(index, text):
                out.write({"id": f"{rid}:g{k}", query_field: new, "source_id": rid,
                           "generated": True, "method": method})
                made += 1
    note(TOOL, f"{made} generated queries from {len(sources)} queries", quiet=quiet)
    ctx.exit(diag.exit_code())


def _harvest(ctx, files, output, method, corpus_files, packages, exclude, query_field,
             on_error, quiet):
    """gen-queries --method sentences | docstrings: unlabelled text, held-out text dropped."""
    from .querygen import harvest

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    kept = harvest(method, files, corpus_files, packages, exclude, query_field, diag)
    with open_output(output, tool=TOOL) as out:
        for source, k, text in kept:
            out.write({"id": f"{source}:{method[0]}{k}", query_field: text, "source_id": source,
                       "generated": True, "method": method})
    note(TOOL, f"{len(kept)} unlabelled texts ({method})", quiet=quiet)
    ctx.exit(diag.exit_code())


def _loss_options(fn):
    decorators = [
        click.option("--label-weight", type=click.FloatRange(min=0), default=0.0,
                     show_default=True,
                     help="Direct training: cross-entropy of the student's scores against the "
                          "labels (the ablation's first row uses only this)."),
        click.option("--score-weight", type=click.FloatRange(min=0), default=1.0,
                     show_default=True, help="Score distillation (L_score)."),
        click.option("--score-loss", type=click.Choice(["softmax", "margin-mse"]),
                     default="softmax", show_default=True,
                     help="Softmax cross-entropy over the candidates, or margin-MSE."),
        click.option("--query-emb-weight", type=click.FloatRange(min=0), default=1.0,
                     show_default=True, help="Query embedding matching (L_emb^Q)."),
        click.option("--doc-emb-weight", type=click.FloatRange(min=0), default=0.0,
                     show_default=True,
                     help="Document embedding matching (L_emb^D; needs --doc-tower own)."),
        click.option("--distance", type=click.Choice(["mse", "l2", "cosine"]), default="mse",
                     show_default=True, help="Embedding matching distance."),
        click.option("--doc-tower", type=click.Choice(["auto", "inherit", "own"]),
                     default="auto", show_default=True,
                     help="inherit: the teacher's frozen document tower (asymmetric student); "
                          "own: the student embeds documents too; auto: inherit from a "
                          "dual-encoder teacher."),
        click.option("--projection", type=click.Choice(["auto", "never"]), default="auto",
                     show_default=True,
                     help="auto: a learned projection P when the widths differ; never: fail."),
        click.option("--fit-projection/--no-fit-projection", default=True, show_default=True,
                     help="Start P as the least-squares map from the student's pooled vectors "
                          "to the teacher's embeddings of the training queries and documents."),
        click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.05,
                     show_default=True, help="Softmax temperature of the scores (cosines)."),
        click.option("--teacher-temperature", type=click.FloatRange(min=0, min_open=True),
                     default=None, help="Temperature of the teacher's distribution "
                                        "(default: --temperature)."),
        click.option("--hard-negatives", type=click.IntRange(min=0), default=4,
                     show_default=True, help="Hard negatives per query (teacher-mined unless "
                                             "records have 'negatives'); a generated query's "
                                             "candidates are the teacher's top 1 + N."),
        click.option("--in-batch/--no-in-batch", default=True, show_default=True,
                     help="Score each query against the whole batch's candidates."),
        click.option("--corpus-candidates", is_flag=True,
                     help="Score each query against the whole corpus (inherited document "
                          "tower only: the teacher's document embeddings are fixed, so this "
                          "is one matrix product) and distil the teacher's full ranking."),
    ]
    for d in reversed(decorators):
        fn = d(fn)
    return fn


def _train_options(fn):
    decorators = [
        click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True),
        click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
                     help="Queries per step."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3,
                     show_default=True, help="Peak learning rate (warm-up, then linear decay)."),
        click.option("--query-max-length", type=click.IntRange(min=4), default=64,
                     show_default=True, help="Query tokens."),
        click.option("--doc-max-length", type=click.IntRange(min=4), default=128,
                     show_default=True, help="Document tokens."),
        options.device,
        click.option("--cache-dir", metavar="DIR", type=click.Path(file_okay=False),
                     help="Cache the teacher's embeddings here, per text (shared between runs and "
                          "lists; an interrupted encoding keeps the chunks it finished)."),
    ]
    for d in reversed(decorators):
        fn = d(fn)
    return fn


def _doc_tower(choice: str, teacher) -> bool:
    if choice == "auto":
        return teacher.kind == "dual-encoder"
    return choice == "inherit"


@cli.command()
@options.inputs
@click.option("--corpus", "corpus_files", multiple=True, required=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False), help="Document records.")
@click.option("--teacher", default="minilm", show_default=True, metavar="DIR",
              help="A sentence-encoder directory (minilm: the packaged one) or a cross-encoder.")
@click.option("--teacher-kind", type=click.Choice(["auto", "dual-encoder", "cross-encoder"]),
              default="auto", show_default=True)
@click.option("--ce-score", type=click.Choice(["logit", "dual"]), default="logit",
              show_default=True, help="A cross-encoder teacher's score: its logit, or the "
                                      "dual-pooling inner product.")
@click.option("--student", "student_dir", required=True, metavar="DIR",
              help="The initial student encoder ('distill student' makes one).")
@click.option("--generated", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Generated (unlabelled) queries from 'distill gen-queries'. Repeatable.")
@click.option("--heldout", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Held-out query records: training fails if a training or generated query "
                   "shares an id, a text or a source with one. Repeatable.")
@options.out_dir(required=True, help="Where the student, checkpoints and log go.")
@_loss_options
@_train_options
@click.option("--save-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Steps between checkpoints (0: at every epoch's end only).")
@click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--group-by-length", is_flag=True,
              help="Batch queries of similar length (seeded groups of 50 batches sorted by "
                   "characters): less padding when short queries are mixed with longer texts "
                   "(1.7x cheaper steps on the distill benchmark's).")
@options.resume(help="Continue the run in --out-dir from its checkpoint.")
@options.field_name("query", "query", "Field holding the query.")
@options.field_name("text", "text", "Field holding a document's text.")
@options.seed
@options.output
@options.on_error
@options.quiet
@click.pass_context
def train(ctx, files, corpus_files, teacher, teacher_kind, ce_score, student_dir, generated,
          heldout, out_dir, label_weight, score_weight, score_loss, query_emb_weight,
          doc_emb_weight, distance, doc_tower, projection, fit_projection, temperature,
          teacher_temperature,
          hard_negatives, in_batch, corpus_candidates, epochs, batch_size, lr, query_max_length,
          doc_max_length, device, cache_dir, save_every, log_every, group_by_length, resume,
          query_field, text_field, seed,
          output, on_error, quiet):
    """Distil a teacher into a student on training queries.

    Loss = --label-weight x label cross-entropy + --score-weight x score distillation +
    --query-emb-weight x query embedding matching + --doc-emb-weight x document embedding
    matching; each is off at weight 0. The teacher's embeddings are computed once; with an
    inherited document tower the student only learns a query tower (and the projection).
    One log record per --log-every steps goes to standard output and DIR/log.jsonl; the
    student is saved to --out-dir. Checkpoints are atomic; Ctrl-C saves one and --resume
    continues where the run stopped (the same data and settings but --device, --cache-dir,
    --save-every and --log-every). The same --seed gives the same student on one machine.

    \b
    Examples:
      papertools distill student --layers 1 --hidden 64 --out-dir /tmp/distill-s0 -q --vocab-from examples/distill/tiny/corpus.jsonl.gz
      papertools distill train examples/distill/tiny/train.jsonl.gz --corpus examples/distill/tiny/corpus.jsonl.gz --student /tmp/distill-s0 --out-dir /tmp/distill-s1 --epochs 1 --group-by-length --resume -q --cache-dir /tmp/distill-cache > /dev/null
      papertools distill eval examples/distill/tiny/test.jsonl.gz --corpus examples/distill/tiny/corpus.jsonl.gz --student /tmp/distill-s1 --cache-dir /tmp/distill-cache -q
    """
    from papertools.core.models.encoders import load_encoder
    from papertools.core.models import resolve_device
    from papertools.core.seed import seed_everything

    from .data import check_disjoint, read_corpus, read_queries
    from .teacher import load_teacher
    from .train import TrainConfig
    from .train import train as run_train

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    seed_everything(seed)
    corpus = read_corpus(corpus_files, text_field, diag)
    queries = read_queries(files, corpus, query_field, labelled=True, diagnostics=diag)
    gen = read_queries(generated, corpus, query_field, labelled=False, diagnostics=diag) \
        if generated else []
    if heldout:
        held = read_queries(heldout, None, query_field, labelled=True)
        check_disjoint(queries, held, "training")
        check_disjoint(gen, held, "generated")
    dev = resolve_device(device)
    t = load_teacher(teacher, teacher_kind, dev, ce_score)
    s = load_encoder(student_dir, device=dev)
    config = TrainConfig(
        out_dir=out_dir, epochs=epochs, batch_size=batch_size, lr=lr, temperature=temperature,
        teacher_temperature=teacher_temperature, label_weight=label_weight,
        score_weight=score_weight, score_loss=score_loss, query_emb_weight=query_emb_weight,
        doc_emb_weight=doc_emb_weight, distance=distance,
        inherit_docs=_doc_tower(doc_tower, t), projection=projection,
        fit_projection=fit_projection,
        hard_negatives=hard_negatives, in_batch=in_batch, corpus_candidates=corpus_candidates,
        query_max_length=query_max_length,
        doc_max_length=doc_max_length, group_by_length=group_by_length, seed=seed,
        device=str(dev), save_every=save_every, log_every=log_every, resume=resume,
        cache_dir=cache_dir)
    with open_output(output, tool=TOOL) as out:  # log records: here and in DIR/log.jsonl
        summary = run_train(config, t, s, corpus, queries + gen, out.write, enabled(quiet))
    p = summary["parameters"]
    note(TOOL, f"trained a {p['total']:,}-parameter student ({summary['document_encoder']} "
               f"document tower) on {summary['queries']} queries + "
               f"{summary['generated_queries']} generated, {summary['steps']} steps in "
               f"{summary['seconds']:.0f} s; in {out_dir}", quiet=quiet)
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.output
@click.option("--model", default="minilm", show_default=True, metavar="DIR",
              help="Any sentence encoder: a student, a teacher, minilm.")
@click.option("--role", type=click.Choice(["query", "document"]), default="query",
              show_default=True,
              help="document: with a student that inherited its document tower, documents are "
                   "embedded by that teacher (as retrieval must).")
@options.field_name("text", "text", "Field holding the text.")
@click.option("--embedding-field", default="embedding", show_default=True, metavar="NAME")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--max-length", type=click.IntRange(min=4), default=None,
              help="Token limit (default: the encoder's).")
@options.device
@options.on_error
@options.quiet
@click.pass_context
def encode(ctx, files, output, model, role, text_field, embedding_field, batch_size, max_length,
           device, on_error, quiet):
    """Embed the text of JSONL records with any encoder.

    Writes each record with its embedding (float32 values as JSON numbers) in
    --embedding-field, in input order. Pooling, projection and normalisation are the encoder's.

    \b
    Examples:
      papertools distill encode examples/distill/tiny/test.jsonl.gz --text-field query -q | head -n 1 | cut -c 1-120
    """
    from papertools.core.models.encoders import load_encoder
    from papertools.core.models import resolve_device

    from .evaluate import document_encoder

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    items = []
    for item in read_records(files, diag):
        try:
            field(item.record, text_field, str, place=item.place)
        except InputError as err:
            diag.bad(err)
            continue
        items.append(item)
    name = model
    if role == "document" and document_encoder(model) == "teacher":
        import json as _json
        from pathlib import Path

        name = _json.loads((Path(model) / "papertools.json").read_text())["teacher"]
    enc = load_encoder(name, device=resolve_device(device))
    if max_length:
        enc.max_length = min(max_length, enc.max_length)
    texts = [i.record[text_field] for i in items]
    vectors = enc.encode(texts, batch_size=batch_size)
    with open_output(output, tool=TOOL) as out:
        for item, vec in zip(items, vectors):
            out.write({**item.record, embedding_field: vec})
    ctx.exit(diag.exit_code())


def _eval_options(fn):
    decorators = [
        options.list_option("-k", "--top-k", "ks", convert=int, minimum=1,
                            default=(1, 5, 10, 100), show_default=True, metavar="K[,K...]",
                            help="Recall@k cut-offs."),
        options.plot(help="Draw the students' retention (with the paper's beside) to PNG."),
    ]
    for d in reversed(decorators):
        fn = d(fn)
    return fn


@cli.command("eval")
@options.inputs
@click.option("--corpus", "corpus_files", multiple=True, required=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False), help="The candidate pool.")
@click.option("--teacher", default="minilm", show_default=True, metavar="DIR")
@click.option("--student", "students", multiple=True, metavar="[NAME=]DIR",
              help="A student encoder to compare (repeatable; NAME labels its row; ablation "
                   "step names direct, +score, +inherit, +query_emb, +querygen get the "
                   "paper's figures beside).")
@_eval_options
@click.option("--query-max-length", type=click.IntRange(min=4), default=64, show_default=True)
@click.option("--doc-max-length", type=click.IntRange(min=4), default=128, show_default=True)
@click.option("--cache-dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Cache the teacher's document embeddings here.")
@options.device
@options.output
@options.field_name("query", "query", "Field holding the query.")
@options.field_name("text", "text", "Field holding a document's text.")
@options.on_error
@options.quiet
@click.pass_context
def eval_(ctx, files, corpus_files, teacher, students, ks, plot, query_max_length,
          doc_max_length, cache_dir, device, output, query_field, text_field, on_error, quiet):
    """Compare the teacher and students on held-out queries (MRR@10, Recall@k, retention).

    Every model ranks the whole corpus for every query (exact search); a student's figures are
    divided by the teacher's on the same queries and pool (retention, with a 95% bootstrap
    interval). For a student with a pruned vocabulary, a line says what share of the queries
    hold words it splits into shorter pieces and the retention on them and on the rest (such
    queries lose most; --min-count 1 keeps them few). The table goes to standard error, one
    record per model to standard output.

    \b
    Examples:
      papertools distill eval examples/distill/tiny/test.jsonl.gz --corpus examples/distill/tiny/corpus.jsonl.gz --cache-dir /tmp/distill-cache -q
    """
    from papertools.core.models import resolve_device

    from .data import read_corpus, read_queries
    from .evaluate import format_table, plot as draw
    from .ablation import Evaluator

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    corpus = read_corpus(corpus_files, text_field, diag)
    queries = read_queries(files, corpus, query_field, labelled=True, diagnostics=diag)
    if not queries:  # empty input: no records (papertools-jsonl(7))
        note(TOOL, "no queries: nothing to evaluate", quiet=quiet)
        ctx.exit(diag.exit_code())
    if any(q.generated for q in queries):
        raise PapertoolsError("evaluation needs labelled queries (generated ones have no labels)")
    ev = Evaluator(teacher, corpus, queries, ks=ks, device=resolve_device(device),
                   query_max_length=query_max_length, doc_max_length=doc_max_length,
                   cache_dir=cache_dir)
    rows = [ev.teacher_row()]
    for spec in students:
        name, _, path = spec.rpartition("=")
        rows.append(ev.student_row(name or path.rstrip("/").rsplit("/", 1)[-1], path))
    with open_output(output, tool=TOOL) as out:
        for row in rows:
            out.write(row)
    if not quiet:
        click.echo(format_table(rows, ks), err=True)
    if plot:
        draw(rows, plot)
    ctx.exit(diag.exit_code())


@cli.command()
@click.option("--corpus", "corpus_files", multiple=True, required=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False), help="Document records.")
@click.option("--train", "train_files", multiple=True, required=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False), help="Training query records.")
@click.option("--test", "test_files", multiple=True, required=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Held-out query records (evaluation only; disjointness is checked).")
@click.option("--teacher", default="minilm", show_default=True, metavar="DIR",
              help="A dual-encoder teacher.")
@click.option("--student", "student_dir", required=True, metavar="DIR",
              help="The initial student; every step starts from a fresh copy of it.")
@click.option("--generated", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Generated queries for the last step (default: perturb the training queries).")
@click.option("-n", "--samples", "per_query", type=click.IntRange(min=1), default=2,
              show_default=True,
              help="Queries generated per training query when --generated is not given.")
@options.alias("--per-query", to="per_query", new="-n/--samples", type=click.IntRange(min=1))
@options.list_option("--steps", default=("direct", "+score", "+inherit", "+query_emb",
                                         "+querygen"), show_default=True, metavar="STEP[,STEP...]",
                     help="Ablation steps to run, in order.")
@options.out_dir(required=True, help="Students (one folder per step), ablation.json and "
                                     "ablation.png.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.05,
              show_default=True)
@click.option("--hard-negatives", type=click.IntRange(min=0), default=4, show_default=True)
@click.option("--query-emb-weight", type=click.FloatRange(min=0), default=1.0,
              show_default=True)
@_train_options
@_eval_options
@options.seed
@options.output
@options.quiet
def ablate(corpus_files, train_files, test_files, teacher, student_dir, generated, per_query,
           steps, out_dir, temperature, hard_negatives, query_emb_weight, epochs, batch_size,
           lr, query_max_length, doc_max_length, device, cache_dir, ks, plot, seed, output,
           quiet):
    """Train the paper's ablation, each step added in turn, and compare with the teacher.

    direct: the labels only (symmetric student); +score: score distillation instead; +inherit:
    the teacher's frozen document tower; +query_emb: query embedding matching; +querygen:
    generated queries too. Each step trains a fresh copy of --student with the same data, seed
    and schedule, and is evaluated on --test against the whole corpus. Writes the records
    (as eval), the table (stderr, the paper's retention beside) and OUT/ablation.png.

    \b
    Examples:
      papertools distill student --layers 1 --hidden 64 --out-dir /tmp/distill-s0 -q --vocab-from examples/distill/tiny/corpus.jsonl.gz
      papertools distill ablate --corpus examples/distill/tiny/corpus.jsonl.gz --train examples/distill/tiny/train.jsonl.gz --test examples/distill/tiny/test.jsonl.gz --student /tmp/distill-s0 --out-dir /tmp/distill-ablate --steps direct,+inherit --epochs 1 --cache-dir /tmp/distill-cache -q > /dev/null
    """
    from papertools.core.models import resolve_device

    from .ablation import AblationConfig, run_ablation
    from .evaluate import STEPS, format_table

    chosen = list(steps)
    unknown = [s for s in chosen if s not in STEPS]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown step(s) {', '.join(unknown) or '(none)'}; choose "
                                 f"from {', '.join(STEPS)}", param_hint="--steps")
    config = AblationConfig(out_dir=out_dir, steps=chosen, per_query=per_query,
                            temperature=temperature, hard_negatives=hard_negatives,
                            query_emb_weight=query_emb_weight, epochs=epochs,
                            batch_size=batch_size, lr=lr, query_max_length=query_max_length,
                            doc_max_length=doc_max_length, seed=seed, cache_dir=cache_dir,
                            ks=tuple(ks))
    rows = run_ablation(config, teacher, student_dir, corpus_files, train_files, test_files,
                        generated, device=resolve_device(device), quiet=quiet,
                        plot_path=plot)
    with open_output(output, tool=TOOL) as out:
        for row in rows:
            out.write(row)
    if not quiet:
        click.echo(format_table(rows, ks), err=True)
