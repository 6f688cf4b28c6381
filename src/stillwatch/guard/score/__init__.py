"""Scoring: the constants (:mod:`.config`), the detection steps (:mod:`.detect`), account linking
and splitting (:mod:`.links`, :mod:`.cluster`) and the explained findings (:mod:`.findings`)."""
