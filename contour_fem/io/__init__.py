"""Input and output: files written safely, result records and their readers, output folders.

- :mod:`~.files`: atomic writes with the user's umask, JSON and CSV;
- :mod:`~.output`: the output-folder rule (what the tool may write, replace or must refuse);
- :mod:`~.results`: a case's result files (``result.json``, ``run.json``, ``interface.csv``,
  fields) and :func:`load_result`;
- :mod:`~.fields`: fields for ParaView.
"""
