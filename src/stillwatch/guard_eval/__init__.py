"""guard_eval: the evaluation harness of the guard detector.

:mod:`.contract` (the detector-output type every evaluated detector returns), :mod:`.evaluate`
(ROC/PR, TPR at fixed FPR, clustering agreement, time to alarm; scenario and file evaluation) and
:mod:`.baselines` (published harvesting / model-extraction detectors, implemented from their papers).
"""
