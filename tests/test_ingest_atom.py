"""Ingesting saved arXiv API responses (Atom 1.0 with the arxiv: extension)."""
# ruff: noqa: E501 - records are kept exactly as arXiv publishes them, long lines included

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.ingest.run import ingest_paths
from paperfeed.store.papers import get_paper
from tests.factories import write_file
from tests.ingesting import ingest_detected, stored

# An arXiv API response as export.arxiv.org/api/query returns it (namespaces declared per element).
API_RESPONSE = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D2401.01234%2Chep-th%2F9901001%26start%3D0%26max_results%3D10" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=2401.01234,hep-th/9901001&amp;start=0&amp;max_results=10</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <updated>2024-02-05T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">3</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">10</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/2401.01234v2</id>
    <updated>2024-02-01T10:15:02Z</updated>
    <published>2024-01-02T18:59:59Z</published>
    <title>Sparse Attention for Long
  Documents: A $\\mathcal{O}(n \\log n)$ Approach</title>
    <summary>  We study sparse attention for long documents.
Our method scales as $O(n \\log n)$ and improves perplexity.
</summary>
    <author>
      <name>Ada Lovelace</name>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">Analytical Engines Ltd</arxiv:affiliation>
    </author>
    <author>
      <name>Bal\\'azs Csan\\'ad</name>
    </author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.1234/example.5678</arxiv:doi>
    <link title="doi" href="http://dx.doi.org/10.1234/example.5678" rel="related"/>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">12 pages, 4 figures; v2: fixed typos</arxiv:comment>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">J. Long Doc. 3 (2024) 1-12</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/2401.01234v2" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/2401.01234v2" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/hep-th/9901001v1</id>
    <updated>1999-01-01T12:00:00Z</updated>
    <published>1999-01-01T12:00:00Z</published>
    <title>On the Quantum Geometry of Strings</title>
    <summary>We discuss the quantum geometry of strings.</summary>
    <author><name>J\u00fcrgen M\u00fcller</name></author>
    <link href="http://arxiv.org/abs/hep-th/9901001v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/hep-th/9901001v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="hep-th" scheme="http://arxiv.org/schemas/atom"/>
    <category term="hep-th" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/2402.00001v1</id>
    <updated>2024-02-01T00:00:00Z</updated>
    <published>2024-02-01T00:00:00Z</published>
    <title>   </title>
    <summary>An entry whose title is missing.</summary>
    <author><name>Nobody</name></author>
    <category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>
"""

# What the API answers for a malformed id: a feed with one entry titled "Error".
API_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3D%26id_list%3D1234.12345%26start%3D0%26max_results%3D10" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=1234.12345&amp;start=0&amp;max_results=10</title>
  <id>http://arxiv.org/api/kvuntZ8c9a4Eq5CF7KY03nMug+Q</id>
  <updated>2024-02-05T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">10</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
    <updated>2024-02-05T00:00:00-05:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
</feed>
"""


def test_api_response_is_detected_and_every_field_is_stored(engine: Engine, tmp_path: Path) -> None:
    report = ingest_detected(engine, write_file(tmp_path, "query.xml", API_RESPONSE), "arxiv-atom")
    assert report.added == 2
    p, old = stored(engine, "2401.01234", "hep-th/9901001")
    assert p.title == "Sparse Attention for Long Documents: A $\\mathcal{O}(n \\log n)$ Approach"
    assert p.abstract.startswith("We study sparse attention") and "\n" not in p.abstract
    assert p.author_names == ["Ada Lovelace", "Balázs Csanád"]
    assert p.authors[0].affiliations == ["Analytical Engines Ltd"]
    assert p.primary_category == "cs.CL" and p.categories == ["cs.CL", "cs.LG"]
    assert p.published == datetime(2024, 1, 2, 18, 59, 59, tzinfo=UTC)
    assert p.updated == datetime(2024, 2, 1, 10, 15, 2, tzinfo=UTC)
    assert [v.version for v in p.versions] == [1, 2] and p.latest_version == 2
    assert p.doi == "10.1234/example.5678"
    assert p.journal_ref == "J. Long Doc. 3 (2024) 1-12"
    assert p.comments == "12 pages, 4 figures; v2: fixed typos"
    assert p.abs_url == "https://arxiv.org/abs/2401.01234" and p.pdf_url == "https://arxiv.org/pdf/2401.01234"
    assert p.source == "arxiv-api"
    assert old.author_names == ["Jürgen Müller"] and old.primary_category == "hep-th"


def test_entry_without_title_is_rejected_with_its_record_index(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "query.atom", API_RESPONSE)
    report = ingest_paths(engine=engine, paths=[path])
    assert [(r.file, r.record, r.reason) for r in report.rejected] == [(str(path), 3, "missing title")]
    with engine.connect() as conn:
        assert get_paper(conn=conn, paper_id="2402.00001") is None


def test_error_entry_is_an_error_not_a_paper(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "error.atom", API_ERROR)
    report = ingest_paths(engine=engine, paths=[path])
    assert report.added == 0
    assert len(report.rejected) == 1
    assert report.rejected[0].reason == "arXiv API error: incorrect id format for 1234.12345"
    assert report.rejected[0].record == 1
    with engine.connect() as conn:
        assert get_paper(conn=conn, paper_id="1234.12345") is None


def test_reingesting_the_response_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "query.xml", API_RESPONSE)
    ingest_paths(engine=engine, paths=[path])
    again = ingest_paths(engine=engine, paths=[path])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
