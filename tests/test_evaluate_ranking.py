"""The metric functions of bench/evaluate_ranking.py (no database, no index)."""

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "bench" / "evaluate_ranking.py"
_spec = importlib.util.spec_from_file_location("evaluate_ranking", _PATH)
evaluate_ranking = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate_ranking)

ndcg_at_k = evaluate_ranking.ndcg_at_k
recall_at_k = evaluate_ranking.recall_at_k


def test_ndcg_of_a_perfect_ranking_is_one():
    assert ndcg_at_k(["a"], {"a": 1}) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "b", "x"], {"a": 1, "b": 1}) == pytest.approx(1.0)
    # Graded: the higher grade first is ideal.
    assert ndcg_at_k(["a", "b"], {"a": 2, "b": 1}) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}) < 1.0


def test_ndcg_with_the_only_relevant_doc_at_rank_two():
    assert ndcg_at_k(["x", "a", "y"], {"a": 1}) == pytest.approx(1 / math.log2(3))


def test_ndcg_counts_only_the_first_ten_and_no_duplicates():
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert ndcg_at_k(ranked, {"a": 1}) == 0.0
    assert ndcg_at_k(["a", "a"], {"a": 1, "b": 1}) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_recall_at_100_counts_relevant_docs_found():
    relevant = {"a": 1, "b": 1, "c": 1, "d": 1}
    assert recall_at_k(["a", "x", "c"], relevant) == pytest.approx(0.5)
    assert recall_at_k(["d", "c", "b", "a"], relevant) == pytest.approx(1.0)
    beyond = [f"x{i}" for i in range(100)] + ["a"]
    assert recall_at_k(beyond, relevant) == 0.0
    assert recall_at_k(["a", None, "b"], {"a": 1, "b": 0}) == pytest.approx(1.0)


def test_empty_results_score_zero():
    assert ndcg_at_k([], {"a": 1}) == 0.0
    assert recall_at_k([], {"a": 1}) == 0.0
    assert ndcg_at_k(["a"], {}) == 0.0


def test_judged_ids_merged_into_one_article_take_the_best_grade():
    from judgments import merge_judgments  # bench/ is on the path once the harness loads

    queries = [{"qid": "n1", "query": "strike", "relevant": {"mm-1": 1, "mm-2": 2, "mm-3": 1}}]
    # mm-2 was an exact duplicate of mm-1: the article answers with mm-1.
    assert merge_judgments(queries, {"mm-1": "mm-1", "mm-2": "mm-1", "mm-3": "mm-3"}) == 1
    assert queries[0]["relevant"] == {"mm-1": 2, "mm-3": 1}


def test_beir_queries_with_either_id_key(tmp_path):
    from judgments import load_beir

    (tmp_path / "q.jsonl").write_text('{"_id": "1", "text": "a claim"}\n{"id": "2", "text": "b"}\n')
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t1\n2\td3\t0\n")
    assert load_beir(tmp_path / "q.jsonl", tmp_path / "qrels.tsv") == [
        {"qid": "1", "query": "a claim", "relevant": {"d1": 1}},
        {"qid": "2", "query": "b", "relevant": {"d2": 1, "d3": 0}},
    ]


def test_the_train_split_is_the_default_and_every_split_has_its_files():
    from judgments import SPLITS

    for name, split in SPLITS.items():
        assert ("beir" in split) != ("queries" in split), name
        assert split["docs"].name.endswith(".jsonl"), name
    assert SPLITS["train"]["beir"][0].name == "train-queries.jsonl"
    assert evaluate_ranking.build_parser().parse_args([]).split == "train"
