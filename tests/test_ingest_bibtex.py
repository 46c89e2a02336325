"""Ingesting BibTeX: arXiv's "Export BibTeX", Google Scholar and plain journal entries."""
# ruff: noqa: E501 - records are kept exactly as arXiv publishes them, long lines included

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.ids import derived_id
from paperfeed.ingest.run import ingest_paths
from paperfeed.store.papers import count_papers, get_paper
from tests.ingesting import ingest_detected, stored

BIB = r"""% Exported from arXiv and Google Scholar
@misc{vaswani2023attentionneed,
      title={Attention Is All You Need},
      author={Ashish Vaswani and Noam Shazeer and Niki Parmar and Jakob Uszkoreit and Llion Jones and Aidan N. Gomez and Lukasz Kaiser and Illia Polosukhin},
      year={2023},
      eprint={1706.03762},
      archivePrefix={arXiv},
      primaryClass={cs.CL},
      url={https://arxiv.org/abs/1706.03762},
}

@article{devlin2018bert,
  title={Bert: Pre-training of deep bidirectional transformers for language understanding},
  author={Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina},
  journal={arXiv preprint arXiv:1810.04805},
  year={2018}
}

@article{schrodinger1926,
  author  = {Schr{\"o}dinger, Erwin and M{\"u}ller, Hans and {Barnes and Noble}},
  title   = {{\"U}ber das Verh{\"a}ltnis der {H}eisenberg-{B}orn-{J}ordanschen {Q}uantenmechanik zu der meinen},
  journal = {Annalen der Physik},
  volume  = {384},
  number  = {8},
  pages   = {734--756},
  year    = {1926},
  month   = may,
  doi     = {10.1002/andp.19263840804},
  abstract = {We show that the two formulations with $\hat{H}\psi = E\psi$ agree.},
}

@inproceedings{broken2020,
  author = {No Title},
  year = {2020},
}
"""


def _write(tmp_path: Path, text: str, name: str = "refs.bib") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bibtex_entries_are_stored_with_arxiv_ids_when_given(engine: Engine, tmp_path: Path) -> None:
    report = ingest_detected(engine, _write(tmp_path, BIB), "bibtex")
    assert report.added == 3
    attention, bert = stored(engine, "1706.03762", "1810.04805")
    assert attention.author_names[:2] == ["Ashish Vaswani", "Noam Shazeer"] and len(attention.authors) == 8
    assert attention.categories == ["cs.CL"]
    assert attention.abs_url == "https://arxiv.org/abs/1706.03762"
    assert bert.author_names == ["Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"]
    assert bert.journal_ref is None  # "arXiv preprint" is not a journal
    assert bert.source == "bibtex"


def test_latex_becomes_unicode_and_papers_without_arxiv_id_get_a_derived_id(engine: Engine, tmp_path: Path) -> None:
    ingest_paths(engine=engine, paths=[_write(tmp_path, BIB)])
    title = "Über das Verhältnis der Heisenberg-Born-Jordanschen Quantenmechanik zu der meinen"
    abstract = r"We show that the two formulations with $\hat{H}\psi = E\psi$ agree."
    pid = derived_id(title, abstract)
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id=pid)
    assert p is not None and pid.startswith("pf-")
    assert p.title == title
    assert p.abstract == abstract  # math is kept as written
    assert p.author_names == ["Erwin Schrödinger", "Hans Müller", "Barnes and Noble"]
    assert p.doi == "10.1002/andp.19263840804" and p.journal_ref == "Annalen der Physik"
    assert p.published == datetime(1926, 5, 1, tzinfo=UTC)


def test_entry_without_title_is_rejected_with_its_line(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, BIB)
    report = ingest_paths(engine=engine, paths=[path])
    assert len(report.rejected) == 1
    r = report.rejected[0]
    assert r.file == str(path) and r.line == BIB.splitlines().index("@inproceedings{broken2020,") + 1
    assert r.reason == "@inproceedings{broken2020}: missing title"


def test_malformed_block_is_reported_and_the_rest_kept(engine: Engine, tmp_path: Path) -> None:
    text = BIB.replace("@article{devlin2018bert,", "@article{devlin2018bert,\n  title = {Unclosed", 1)
    report = ingest_paths(engine=engine, paths=[_write(tmp_path, text)], fmt="bibtex")
    assert report.added >= 1
    assert any(r.line is not None for r in report.rejected)
    with engine.connect() as conn:
        assert get_paper(conn=conn, paper_id="1706.03762") is not None
        assert count_papers(conn=conn) == report.added
