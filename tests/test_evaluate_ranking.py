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
    assert ndcg_at_k(["a", "a"], {"a": 1, "b": 1}) == pytest.approx(
        1 / (1 + 1 / math.log2(3)))


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
