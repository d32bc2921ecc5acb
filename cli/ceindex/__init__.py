"""``papertools ceindex``: the command-line front end (options and help only).

The method lives in index.py (indexing: sparse CE matrix, masked matrix factorisation), search.py
(adaptive retrieval, Algorithm 1), methods.py (axn and the rnr/anncur/adacur baselines),
evaluate.py (Top-k-Recall@m), scorers.py (CEs and the counting cache), corpus.py (a docstring
corpus from installed code). It uses papertools.core.models.encoders for the DE and the CE models.
"""

from __future__ import annotations

import time

import click

from papertools.core import options
from papertools.core.errors import Diagnostics, PapertoolsError
from papertools.core.jsonl import open_output, write_json
from papertools.core.progress import note, progress

TOOL = "ceindex"

RECORDS = """\
corpus writes DIR/items.jsonl ({"id", "text"}: "<module>.<qualname>: <docstring without its
first sentence>"), DIR/train.jsonl and DIR/test.jsonl ({"id": "q:<item id>", "text": the
docstring's first sentence, "gold_id": the item it came from}); train and test are disjoint.

build reads items (--items, records with "id" and --text-field) and training queries (FILE, the
same fields), and writes the index folder: index.json (settings, the DE's embeddings of two
probe texts and their hash, the CE spec, normalisation alpha and beta, per-variant training
figures, "items_observed", "ce_calls": {"sparse": k_d x |Q|, "cur": anchor queries x items,
"normalize": the entries of G the normalisation used, "tune": the pairs the choice of
search settings scored}, "tune_query_ids" (training queries held out of the fit to make that
choice), per variant "search" ({"lambda", "intercept", "tuned", "dev_recall", ...}: what
search and eval use by default), timings), items.jsonl,
train_queries.jsonl, scores.jsonl (the observed CE scores of G, one line per training query;
--resume continues from it), cur.jsonl (dense anchor rows), de_items.npy and de.faiss,
emb_<variant>.npy and emb_<variant>.faiss, and mlp_ind.npz for the inductive variant. The DE
is recorded as given (--de): search and eval load it from there unless --de names its new
place.

search reads test queries ("id" and --text-field) and writes each record with "neighbors"
([{"id", "score"}], the top -k items by exact CE score, best first), "ce_calls" (CE calls spent
on the query: the budget), "method", "budget" and "rounds" (items CE-scored per round).

eval reads test queries and writes one record per method and budget: "id" ("<method>@<B>"),
"method", "budget", "lambda" and "intercept" (axn's settings, null for the others), "rounds",
"queries", "recall" ({"k": mean Top-k-Recall@B}),
"recall_std", "ce_calls_per_query", "index_ce_calls" (CE calls the method's index cost:
k_d x |Q| plus the choice of search settings for axn, the entries the normalisation used
and that choice for axn:de, anchors x items for anncur and adacur, 0 for rnr), "index_seconds" (the wall time of that part of the build),
"search_ms_per_query" (time outside CE calls and DE query encoding: solves and index
searches). Timings vary from run to run; every other field is fixed by --seed."""

SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)", "papertools-distill(1)"]

TEXT_FIELD = options.field_name("text", "text", "Field holding the query or item text.")
DEVICE = options.device
CE_OPTIONS = options._compose(
    click.option("--ce", metavar="SPEC",
                 help="Cross-encoder: maxsim:ENCODER[@LAYER] (late interaction over an encoder's "
                      "token states, e.g. maxsim:minilm), or a Hugging Face sequence-"
                      "classification model directory."),
    click.option("--scorer", metavar="MODULE:FUNCTION",
                 help="Your own CE: FUNCTION(queries, items) -> one float per pair, from a "
                      "module or a file (FILE.py:FUNCTION). build records it so that search "
                      "and eval find it from any folder."),
)
INDEX_IN = click.option("-i", "--index", "index_dir", metavar="DIR", required=True,
                        type=click.Path(file_okay=False, exists=True),
                        help="Index folder (from build).")
# what search and eval share after their own options: the models, the input, the run
QUERY_OPTIONS = options._compose(
    click.option("--de", default=None, metavar="DIR",
                 help="The index's DE in another place (another model is an error)."),
    CE_OPTIONS, options.seed, DEVICE, TEXT_FIELD, options.on_error, options.quiet,
)
SEARCH_OPTIONS = options._compose(
    click.option("-R", "--rounds", type=click.IntRange(min=1), default=5, show_default=True,
                 help="Rounds R of adaptive retrieval (axn, adacur); B/R CE calls per round "
                      "(the paper: 5 for ZeShEL, 10 for BEIR; R=1 is retrieve-and-rerank)."),
    click.option("--init", type=click.Choice(["de", "random"]), default="de", show_default=True,
                 help="Round-1 items of axn and adacur: the DE's top items, or random ones."),
    click.option("--lambda", "lam", type=click.FloatRange(0, 1), default=None,
                 help="Eq. 7: u = (1-lambda) u_lstsq + lambda u_DE (u_DE: the DE query "
                      "embedding, or MF_Ind's query network on it) [default: the index's "
                      "choice, made by build on held-out training queries; 0 for an index "
                      "without one]."),
    click.option("--intercept/--no-intercept", default=None,
                 help="axn: fit a free per-query offset with the least squares (scores X u + b; "
                      "b does not change the ranking), so u models only the spread of the "
                      "query's CE scores [default: the index's choice; on for an index "
                      "without one]."),
    click.option("--anchor-frac", type=click.FloatRange(0, 1, min_open=True), default=0.5,
                 show_default=True,
                 help="anncur: share of the budget spent on its fixed random anchor items."),
)


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """k-NN search with cross-encoders (AXN, ANNCUR, ADACUR; Yadav et al., ICLR 2024).

    A cross-encoder (CE) scores a query and an item jointly, so it has no item vectors to index.
    AXN indexes items for it by factorising a sparse matrix of CE scores (training queries x a
    few items each) into item embeddings, initialised from a dual encoder (DE); a test query is
    answered in rounds: solve the query's embedding from the CE scores seen so far (least
    squares), retrieve the next items with it, score them, and return the best by exact CE
    score. Baselines: DE retrieve-and-rerank (rnr), and CUR with anchor queries (anncur,
    adacur). Every CE call is counted and cached.

    \b
    Examples:
      papertools ceindex search examples/ceindex/small/test.jsonl --index examples/ceindex/small/index -B 8 -R 2 -k 3 -q
      papertools ceindex search --help
    """


cli.records = RECORDS
cli.see_also = SEE_ALSO


@cli.command()
@options.list_option("--package", "packages", default=("stdlib",), show_default=True,
                     metavar="NAME[,NAME...]",
                     help="Where docstrings come from: stdlib, or installed top-level packages "
                          "(numpy, torch, ...).")
@options.out_dir(required=True, help="Folder for items.jsonl, train.jsonl and test.jsonl "
                                     "(created if missing).")
@click.option("--test", "n_test", type=click.IntRange(min=1), default=100, show_default=True,
              help="Test queries.")
@click.option("--train", "n_train", type=click.IntRange(min=1), default=None,
              help="Training queries (default: every query not in the test set).")
@click.option("--max-items", type=click.IntRange(min=2), default=None,
              help="Stop after this many items.")
@click.option("--max-words", type=click.IntRange(min=8), default=80, show_default=True,
              help="Words kept per item.")
@options.seed
@options.quiet
def corpus(packages, out_dir, n_test, n_train, max_items, max_words, seed, quiet):
    """Make a retrieval corpus from docstrings of installed Python code (no download).

    Every documented function and class gives an item ("<module>.<name>: " and its docstring
    without the first sentence) and a query (that first sentence). Sources are parsed, never
    imported; the output depends only on the installed versions, the options and --seed.

    \b
    Examples:
      papertools ceindex corpus --package json --test 5 --out-dir /tmp/ceindex-json
      papertools ceindex corpus --package stdlib --max-items 300 --test 20 --train 100 --out-dir /tmp/ceindex-std
    """
    from pathlib import Path

    from .corpus import build_corpus, split_queries
    from .index import write_jsonl

    docs = build_corpus(list(packages), max_item_words=max_words, max_items=max_items)
    if len(docs) < 2:
        raise PapertoolsError(f"only {len(docs)} documented items found in {', '.join(packages)}")
    train, test = split_queries(docs, n_test, n_train, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "items.jsonl", ({"id": d["id"], "text": d["text"]} for d in docs))
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "test.jsonl", test)
    note(TOOL, f"{len(docs)} items, {len(train)} training and {len(test)} test queries "
               f"in {out_dir}", quiet=quiet)


@cli.command()
@options.inputs
@click.option("--items", "items_path", metavar="FILE", required=True,
              type=click.Path(dir_okay=False, allow_dash=False),
              help="Items to index (JSONL: id and --text-field).")
@click.option("-i", "--index", "index_dir", metavar="DIR", required=True,
              type=click.Path(file_okay=False), help="Index folder to write.")
@click.option("--de", default="minilm", show_default=True, metavar="DIR",
              help="Dual encoder (DE_SRC): a sentence-encoder directory, or minilm (the packaged "
                   "MiniLM); a student saved by 'papertools distill' works too.")
@CE_OPTIONS
@click.option("--k-d", "k_d", type=click.IntRange(min=1), default=100, show_default=True,
              help="Items CE-scored per training query (k_d): k_d x |Q| CE calls.")
@click.option("--sample", type=click.Choice(["de", "random"]), default="de", show_default=True,
              help="Which items: each query's DE top-k_d (the paper's main setting) or random.")
@options.list_option("--variant", "variants", choices=("trns", "ind", "de"), default=("trns",),
                     show_default=True, metavar="trns|ind|de[,...]",
                     help="Item embeddings to fit (the first is search's default): trns = "
                   "free embeddings (MF_Trns), ind = skip-MLP on frozen DE embeddings (MF_Ind), "
                   "de = the DE's own (no fitting).")
@click.option("--epochs", type=click.IntRange(min=0), default=None,
              help="Most training epochs [default: 20 for trns and ind]; with --holdout, training "
                   "stops earlier when the held-out error stops falling.")
@click.option("--lr", type=float, default=0.001, show_default=True,
              help="AdamW learning rate (the paper's Hotpot-QA and ZeShEL value).")
@click.option("--holdout", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True,
              help="Share of the observed CE scores held out for early stopping: the item "
                   "embeddings of the epoch with the lowest held-out squared error are kept "
                   "(the DE's own when training only makes it worse). 0: train all epochs.")
@click.option("--query-bias/--no-query-bias", default=True, show_default=True,
              help="Fit a free offset per training query with the embeddings, so they need not "
                   "explain each query's constant offset (which does not change its ranking).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Observed entries per step.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="AdamW weight decay (0 keeps unobserved items at their DE embedding).")
@click.option("--normalize/--no-normalize", default=True, show_default=True,
              help="Map CE scores to the DE's, beta (s - alpha), fitted on 100 training queries: "
                   "beta matches the spread of scores within a query (each query's mean "
                   "removed), alpha the overall mean.")
@click.option("--cur-queries", type=click.IntRange(min=0), default=0, show_default=True,
              help="Anchor queries for the anncur/adacur baselines: their CE scores against "
                   "every item (K x items CE calls). 0: no CUR baselines.")
@click.option("--faiss", "faiss_kind", type=click.Choice(["auto", "flat", "ivf"]), default="auto",
              show_default=True,
              help="Index kind: auto = flat up to 11,000 items, else IVF (ANNCUR's rule).")
@click.option("--max-length", type=click.IntRange(min=8), default=64, show_default=True,
              help="Tokens per text for the DE and a maxsim CE.")
@click.option("--tune-queries", type=click.IntRange(min=0), default=100, show_default=True,
              help="Training queries (at most a tenth of them; none below 5) held out of the "
                   "fit to choose axn's --lambda and --intercept for search and eval, as the "
                   "paper tunes lambda per data set. 0: no choice (lambda 0, offset on).")
@options.list_option("--tune-lambda", "tune_lambdas", convert=float,
                     default=(0, 0.3, 0.5, 0.8, 1), show_default=True, metavar="L[,L...]",
                     help="Candidate lambdas, each tried with and without the per-query offset.")
@options.list_option("--tune-budget", "tune_budgets", convert=int, minimum=1,
                     default=(50, 100, 200), show_default=True, metavar="B[,B...]",
                     help="CE budgets the choice averages over (with k = 1 and 10, R = 5).")
@options.seed
@DEVICE
@options.resume(help="Continue an interrupted build in DIR (CE scores already logged are "
                     "reused).")
@click.option("--overwrite", is_flag=True, help="Replace an existing index in DIR.")
@TEXT_FIELD
@options.on_error
@options.quiet
@click.pass_context
def build(ctx, files, items_path, index_dir, de, ce, scorer, k_d, sample, variants, epochs, lr,
          holdout, query_bias, batch_size, weight_decay, normalize, cur_queries, faiss_kind,
          max_length, tune_queries, tune_lambdas, tune_budgets, seed, device, resume, overwrite,
          text_field, on_error, quiet):
    """Index items for a CE: sparse CE scores, matrix factorisation, faiss (AXN section 2.1).

    FILE holds the training queries. For each, the CE scores k_d items (its DE top-k_d, or
    random ones); item embeddings are fitted to these scores by masked squared error with
    AdamW, initialised from the DE, and indexed with faiss. A few training queries are held
    out of the fit (--tune-queries) to choose axn's lambda and per-query offset, which search
    and eval then use unless told otherwise. CE scores are logged as they come, so an
    interrupted build continues with --resume; index.json is written last.

    \b
    Examples:
      papertools ceindex build examples/ceindex/small/train.jsonl --items examples/ceindex/small/items.jsonl --scorer examples.ceindex.lexical:score -i /tmp/ceindex-small --k-d 10 --overwrite -q
    """
    from papertools.core.models import resolve_device

    from .build import build_index
    from .index import BuildConfig
    from .records import read_texts
    from .scorers import index_spec, parse_spec

    spec = index_spec(parse_spec(ce, scorer), index_dir)
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    items = read_texts([items_path], text_field, diag, what="item")
    queries = read_texts(files, text_field, diag, what="query")
    config = BuildConfig(de=de, ce=spec, k_d=k_d, sample=sample,
                         variants=tuple(dict.fromkeys(variants)), epochs=epochs, lr=lr,
                         holdout=holdout, query_bias=query_bias,
                         batch_size=batch_size, weight_decay=weight_decay, normalize=normalize,
                         cur_queries=cur_queries, faiss=faiss_kind, seed=seed,
                         max_length=max_length, tune_queries=tune_queries,
                         tune_lambdas=tuple(tune_lambdas), tune_budgets=tuple(tune_budgets))
    build_index(items, queries, index_dir, config, resume=resume, overwrite=overwrite,
                quiet=quiet, device=resolve_device(device))
    ctx.exit(diag.exit_code())


@cli.command()
@options.inputs
@options.output
@INDEX_IN
@click.option("--method", default="axn", show_default=True,
              help="axn (the paper; axn:trns, axn:ind or axn:de pick the item embeddings), rnr "
                   "(DE retrieve and rerank), anncur, adacur (need build --cur-queries).")
@click.option("-B", "--budget", type=click.IntRange(min=1), default=100, show_default=True,
              help="CE calls per query.")
@options.alias("-m", to="method", new="--method")
@SEARCH_OPTIONS
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Results per query.")
@QUERY_OPTIONS
@click.pass_context
def search(ctx, files, output, index_dir, method, budget, rounds, init, lam, intercept, anchor_frac,
           k, de,
           ce, scorer, seed, device, text_field, on_error, quiet):
    """k-NN search for test queries with exactly B CE calls each.

    axn: round 1 scores B/R items (DE top, or random); each later round solves the query's
    embedding by least squares (pseudo-inverse) from the CE scores so far, optionally mixed
    with the DE query embedding (--lambda), and scores the next B/R items it ranks highest.
    The answer is the top -k of the B scored items by exact CE score.

    \b
    Examples:
      papertools ceindex search examples/ceindex/small/test.jsonl -i examples/ceindex/small/index -B 8 -R 2 -k 3 -q
      papertools ceindex search examples/ceindex/small/test.jsonl -i examples/ceindex/small/index --method rnr -B 8 -k 3 -q | head -n 1
    """
    from papertools.core.models import resolve_device

    from .methods import SearchSettings, parse_method
    from .session import open_search

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    spec = _spec_or_none(ce, scorer)
    index, queries, searcher = open_search(index_dir, files, text_field, de=de, ce_spec=spec,
                                           device=resolve_device(device), diag=diag)
    m = parse_method(method, index)
    settings = SearchSettings(budget=budget, rounds=rounds, k=k, init=init, lam=lam,
                              intercept=intercept, anchor_frac=anchor_frac, seed=seed)
    item_ids = index.items()[0]
    started, overhead = time.perf_counter(), 0.0
    with open_output(output, tool=TOOL) as out:
        for qi in progress(range(len(queries)), desc="ceindex search", unit="query", quiet=quiet):
            res = searcher.run(m, qi, queries.texts[qi], settings)
            overhead += res.overhead_s
            out.write({**queries.records[qi], "id": queries.ids[qi],
                       "neighbors": [{"id": item_ids[i], "score": float(s)}
                                     for i, s in zip(res.top, res.top_scores)],
                       "ce_calls": res.ce_calls, "method": m.label, "budget": budget,
                       "rounds": res.rounds})
    n = max(1, len(queries))
    note(TOOL, f"{len(queries)} queries, {m.label}, {searcher.ce.requested / n:.0f} CE calls per "
               f"query ({searcher.ce.seconds:.1f} s in the CE), search overhead "
               f"{1000 * overhead / n:.2f} ms per query, {time.perf_counter() - started:.1f} s",
         quiet=quiet)
    ctx.exit(diag.exit_code())


@cli.command(name="eval")
@options.inputs
@options.output
@INDEX_IN
@options.list_option("--method", "methods", metavar="METHOD[,METHOD...]",
                     help="Methods to compare [default: axn and rnr, plus anncur and adacur "
                          "when the index has CUR anchors].")
@options.alias("-m", to="methods", new="--method", multiple=True,
               callback=options.list_callback())
@options.list_option("-B", "--budget", "budgets", convert=int, minimum=1, default=(50, 100, 200),
                     show_default=True, metavar="B[,B...]", help="CE budgets per query.")
@options.alias("--budgets", to="budgets", new="-B/--budget", multiple=True,
               callback=options.list_callback(int, 1))
@options.list_option("-k", "--top-k", "ks", convert=int, minimum=1, default=(1, 10),
                     show_default=True, metavar="K[,K...]", help="The k of Top-k-Recall.")
@options.alias("--ks", to="ks", new="-k/--top-k", multiple=True,
               callback=options.list_callback(int, 1))
@SEARCH_OPTIONS
@click.option("--exact-cache", metavar="PATH.npz", type=click.Path(dir_okay=False),
              help="Keep the exact CE scores (every query x every item) here and reuse them.")
@options.plot(help="Draw recall against budget, per method and k, to PNG.")
@click.option("--results", metavar="JSON", type=click.Path(dir_okay=False),
              help="Also write the table and settings as one JSON document.")
@QUERY_OPTIONS
@click.pass_context
def evaluate(ctx, files, output, index_dir, methods, budgets, ks, rounds, init, lam, intercept,
             anchor_frac,
             exact_cache, plot, results, de, ce, scorer, seed, device, text_field, on_error,
             quiet):
    """Top-k-Recall@B of each method against the exact CE top-k, at equal CE budgets.

    Every test query is scored against every item (brute force, cached; --exact-cache keeps
    it) for the exact top-k; each method then spends B CE calls per query, and its top-k
    (re-ranked by exact CE score) is compared with the exact one. The table goes to stderr.

    \b
    Examples:
      papertools ceindex eval examples/ceindex/small/test.jsonl -i examples/ceindex/small/index -B 4,8 -k 1,3 -R 2 -q
    """
    from papertools.core.models import resolve_device

    from .evaluate import evaluate as run_eval, exact_scores, format_table, plot_recall
    from .methods import SearchSettings, parse_method
    from .session import open_search

    budget_list, k_list = sorted(set(budgets)), sorted(set(ks))
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    spec = _spec_or_none(ce, scorer)
    index, queries, searcher = open_search(index_dir, files, text_field, de=de, ce_spec=spec,
                                           device=resolve_device(device), diag=diag)
    if not methods:
        methods = ("axn", "rnr") + (("anncur", "adacur") if index.meta["cur"]["queries"] else ())
    method_list = [parse_method(m, index) for m in dict.fromkeys(methods)]
    if any(m.name in ("axn", "adacur") for m in method_list) and min(budget_list) < rounds:
        raise PapertoolsError(f"budget {min(budget_list)} is smaller than the number of rounds "
                              f"{rounds}: every round needs at least one CE call")
    if not len(queries):  # empty input: no records (papertools-jsonl(7))
        note(TOOL, "no test queries: nothing to evaluate", quiet=quiet)
        ctx.exit(diag.exit_code())
    exact_scores(searcher.ce, queries.texts, exact_cache, index.meta["ce"],
                 index.meta["items_hash"], quiet=quiet)
    settings = SearchSettings(rounds=rounds, init=init, lam=lam, intercept=intercept,
                              anchor_frac=anchor_frac, seed=seed)
    rows = run_eval(searcher, queries.texts, method_list, budget_list, k_list, settings, quiet)
    with open_output(output, tool=TOOL) as out:
        for row in rows:
            out.write(row)
    if not quiet:
        click.echo(format_table(rows, k_list), err=True)
    if plot:
        plot_recall(rows, k_list, plot, title=f"{index.meta['n_items']} items, CE {index.meta['ce']}")
    if results:
        write_json(results, {"index": str(index_dir), "ce": index.meta["ce"], "de": index.meta["de"],
                             "settings": settings.__dict__, "rows": rows})
    ctx.exit(diag.exit_code())


def _spec_or_none(ce, scorer):
    from .scorers import parse_spec

    return parse_spec(ce, scorer) if (ce or scorer) else None
