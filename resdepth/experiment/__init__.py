"""``resdepth experiment``: paper 1's experiment reproduced (S7, trained depth scaling).

- :mod:`~resdepth.experiment.grid`: rules, budgets and the RunSpecs of the grid;
- :mod:`~resdepth.experiment.measure`: one run trained and measured (GC, stream, spectrum);
- :mod:`~resdepth.experiment.analysis`, :mod:`~resdepth.experiment.stats`,
  :mod:`~resdepth.experiment.rows`: the Table-1 analogue and S7's rows (a)-(f) from intervals
  over seeds (S7(a)'s depth, stated before training, is :mod:`theorems.trained_scaling`);
- :mod:`~resdepth.experiment.run`, :mod:`~resdepth.experiment.report`,
  :mod:`~resdepth.experiment.plots`: the command's flow and outputs (the original grid, whose
  analysis :func:`~resdepth.experiment.judge.judge` is shared with validate's S7 check);
- the pre-registered design of docs/S7_plan.md (fashion-mnist, cifar10):
  :mod:`~resdepth.experiment.design` (grids, tuning budget), :mod:`~resdepth.experiment.selection`
  (choice on validation, the test gate), :mod:`~resdepth.experiment.holm` and
  :mod:`~resdepth.experiment.plan_rows` (t tests, Holm, rows (a)-(f)),
  :mod:`~resdepth.experiment.tuned` and :mod:`~resdepth.experiment.tuned_report` (flow, outputs);
- :mod:`~resdepth.experiment.veit`: Veit's lesion study on a trained conv ResNet.
"""
