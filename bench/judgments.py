"""Queries and relevance judgments for bench/evaluate_ranking.py, in the two layouts it
reads, and the documents they are judged against.

- Ours (`bench/scifact_queries.jsonl`, `bench/news_queries.jsonl`): one JSON object a line,
  {"qid": ..., "query": ..., "relevant": {"<doc id>": grade, ...}}, grades 0, 1 or 2.
- BEIR's: queries.jsonl ({"_id" or "id", "text"}) and a qrels TSV (query-id, corpus-id,
  score, with a header), so a held-out split is scored the same way.
"""

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"
SCIFACT_DOCS = CORPORA / "scifact" / "docs.jsonl"

#: --split NAME: (our queries file, or BEIR queries + qrels), and the documents.
SPLITS = {
    # BEIR's SciFact train split: the tuning set.
    "train": {
        "beir": (CORPORA / "scifact" / "train-queries.jsonl", CORPORA / "scifact" / "train-qrels.tsv"),
        "docs": SCIFACT_DOCS,
    },
    # 78 claims we wrote beside the abstracts: a smoke test, they share the abstracts' wording.
    "claims": {"queries": ROOT / "bench" / "scifact_queries.jsonl", "docs": SCIFACT_DOCS},
    # Short researcher queries on the Mass Mobilization reports, judged by reading the results.
    "news": {"queries": ROOT / "bench" / "news_queries.jsonl", "docs": CORPORA / "mass-mobilization.jsonl"},
}


def load_queries(path) -> list[dict]:
    """Our JSONL layout: [{"qid", "query", "relevant": {doc id: grade}}]."""
    queries = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            relevant = {str(doc): int(grade) for doc, grade in obj["relevant"].items()}
            if not any(g > 0 for g in relevant.values()):
                raise ValueError(f"{path}:{n}: query {obj['qid']} has no relevant document")
            queries.append({"qid": str(obj["qid"]), "query": obj["query"], "relevant": relevant})
    return queries


def load_beir(queries_path, qrels_path) -> list[dict]:
    """BEIR layout. Only queries with at least one positive judgment are kept."""
    texts = {}
    with open(queries_path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                # BEIR writes "_id"; the train split in shared/corpora writes "id".
                texts[str(obj.get("_id", obj.get("id")))] = obj["text"]
    judgments: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for row in rows:
            if not row or row[0] == "query-id":
                continue
            qid, doc, score = row[0].strip(), row[1].strip(), int(float(row[2]))
            judgments.setdefault(qid, {})[doc] = score
    missing = [qid for qid in judgments if qid not in texts]
    if missing:
        raise ValueError(
            f"{len(missing)} judged query ids have no text in {queries_path}: {', '.join(missing[:5])}"
        )
    return [
        {"qid": qid, "query": texts[qid], "relevant": rel}
        for qid, rel in judgments.items()
        if any(g > 0 for g in rel.values())
    ]


def load_doc_ids(path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [str(json.loads(line)["id"]) for line in fh if line.strip()]


def merge_judgments(queries: list[dict], article_of: dict[str, str]) -> int:
    """Judgments re-keyed from record ids to the record id each article answers with: the
    importer merges exact duplicates into one article (Mass Mobilization describes one news
    report once per event), whose grade is the best of its records'. Returns how many
    judged ids were folded into another."""
    folded = 0
    for q in queries:
        merged: dict[str, int] = {}
        for doc, grade in q["relevant"].items():
            key = article_of.get(doc, doc)
            folded += key != doc
            merged[key] = max(grade, merged.get(key, 0))
        q["relevant"] = merged
    return folded
