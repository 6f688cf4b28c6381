"""The provenance test's method in words: the null hypothesis of each configuration, the test, the
multiple-testing correction (the result's ``null_hypothesis``, ``test`` and ``correction`` fields, which the
case dossier prints). Split from :mod:`stillwatch.trace.provenance` (pure text, by configuration)."""

from __future__ import annotations

_AGREE_H0 = ("the suspect's greedy answer agrees with candidate C's no more often than with at least one other model of the "
             "panel that answers in that mode (the other candidates and the independent reference models)")
_EXCESS_H0 = ("for at least one other model of the panel that answers in that mode (the other candidates and the independent "
              "reference models), the difference between the suspect's excess agreement with C and with that model is "
              "symmetric about zero on a random pair of prompts (excess agreement: agreement on the pair's own prompts minus "
              "agreement with the suspect's two answers swapped, i.e. beyond what the suspect's own answer frequencies give; "
              "symmetric for every suspect whose answers do not depend on the prompt)")
_HABIT_H0 = ("the suspect's answers fall among C's distinctive habits (its frequent answers on a separate profile prompt pool "
             "that no other panel model shares) no more often than among those of at least one other panel model")
#: the null hypothesis of candidate C, by ``ProvenanceConfig.per_mode`` (how each prompt mode is judged)
NULLS = {
    "excess": f"H0(C): on prompts drawn from the sampler, in every prompt mode tested, {_EXCESS_H0}; and {_HABIT_H0}",
    "gated": f"H0(C): on prompts drawn from the sampler, in every prompt mode tested, {_AGREE_H0}, or {_EXCESS_H0}; and {_HABIT_H0}",
    "agreement": f"H0(C): on prompts drawn from the sampler, in every prompt mode tested, {_AGREE_H0}; and {_HABIT_H0}",
}
NULL_HYPOTHESIS = NULLS["excess"]
TEST = ("per statistic (agreement per prompt mode, distinctive habits), paired one-sided exact McNemar test of C "
        "against each other panel model on the same prompts; per mode, the excess agreement (matched minus swapped answers "
        "within disjoint pairs of prompts) by an exact sign-flip test of the summed differences given their magnitudes (or, "
        "with excess_method 'sign', the exact sign test) of C against each other panel model; each statistic's "
        "p-value for C is the largest over the rivals (intersection-union test, Berger 1982)")
#: how the statistics of a candidate are combined, by ``ProvenanceConfig.statistic_weights``
STATISTIC_WEIGHTS = {
    "primary": ("; weighted Bonferroni over the statistics of each candidate (the first mode's deciding statistic, the "
                "one the question is about, gets half of alpha when there are 3 or more, the back-ups share the rest "
                "equally; valid under any dependence)"),
    "equal": "; Bonferroni over the statistics of each candidate (valid under any dependence)",
}
_REST = ("; Holm over the candidates at each look; alpha spent over the looks with weights "
         "(n_k/N)^rho - (n_(k-1)/N)^rho, rho = {rho:g} (union bound over looks); non-binding futility stop")
#: the combination of the statistics, by ``ProvenanceConfig.per_mode`` (then ``STATISTIC_WEIGHTS`` and ``_REST``)
CORRECTIONS = {
    "excess": "per mode, the excess p-value (the agreement statistic is reported, not used)",
    "gated": "per mode, the agreement p-value gated by the excess p-value (their maximum, intersection-union)",
    "agreement": "per mode, the agreement p-value (no excess statistic)",
}
#: how an empty answer (end of text at once) is compared, by ``ProvenanceConfig.end_of_text``
END_OF_TEXT = {
    "blank": (" Answers are compared as strings; whitespace-only and empty answers (the text ended at once) are "
              "uninformative: they agree with nothing."),
    "answer": (" Answers are compared as strings; whitespace-only answers are uninformative; an empty answer (the "
               "text ended at once) agrees only with another empty answer."),
}
#: which pairs of prompts the excess statistic counts, by ``ProvenanceConfig.blank_pairs``
BLANK_PAIRS = {"drop": " The excess statistic counts a pair of prompts only when the suspect answers informatively on both.",
               "keep": ""}
PER_MODE = tuple(NULLS)
#: whether the suspect's next-token distributions are used, by ``ProvenanceConfig.logprobs``
LOGPROBS = {
    "auto": (" Where the suspect gives its top-{k} next tokens with their probabilities (a local model; an API that "
             "honours top_logprobs), each mode's excess statistic adds the same excess scored by the log-probability the "
             "suspect gives each panel model's answer (matched minus swapped prompts): the two, each scaled to unit "
             "norm, are summed per pair of prompts and tested by a Monte Carlo sign-flip test ({draws} draws; exact "
             "under the same symmetry)."),
    "off": "",
}
#: added where the panel's own distributions entered a mode (ProvenanceConfig.panel_logprobs); ``{modes}`` names them
PANEL_LOGPROBS = (" In {modes} mode the panel models' own top-k distributions enter too: the Bhattacharyya overlap of "
                  "the suspect's distribution with each panel model's on the same prompt, minus with the suspect's two "
                  "distributions of a pair swapped, as a third unit-norm term of the same sign-flip test (negated by the "
                  "same swap, so the test stays exact).")


def correction_text(per_mode: str = "excess", statistic_weights: str = "primary", rho: float = 3.0) -> str:
    """The multiple-testing correction in words, for a configuration (the result's ``correction``)."""
    return CORRECTIONS[per_mode] + STATISTIC_WEIGHTS[statistic_weights] + _REST.format(rho=rho)


CORRECTION = correction_text()
