"""Language side: class documents, prompts and document supervision.

* :mod:`kgzsl.language.documents`: per-class documents (EmDepart / MADS ``{class: text}``
  JSON, CuPL / "classification by description" descriptor JSON, a folder of ``<class>.txt``,
  KG literals) read, cleaned, split into sentences, aligned to a dataset's classes and grouped
  into attribute views.

Nothing is imported eagerly: import the module you need by its path.
"""
