"""``resdepth experiment``: paper 1's experiment reproduced (S7, trained depth scaling).

- :mod:`~resdepth.experiment.grid`: rules, budgets and the RunSpecs of the grid;
- :mod:`~resdepth.experiment.measure`: one run trained and measured (GC, stream, spectrum);
- :mod:`~resdepth.experiment.analysis`, :mod:`~resdepth.experiment.stats`,
  :mod:`~resdepth.experiment.rows`: the Table-1 analogue and S7's rows (a)-(f) from intervals
  over seeds (S7(a)'s depth, stated before training, is :mod:`theorems.trained_scaling`);
- :mod:`~resdepth.experiment.run`, :mod:`~resdepth.experiment.report`,
  :mod:`~resdepth.experiment.plots`: the command's flow and outputs.
"""
