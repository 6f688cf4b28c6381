"""MarkConfig from dicts and JSON files (the CLI's --watermark-config)."""

import pytest


def test_mark_config_from_dict_and_file(tmp_path):
    import json

    from stillwatch.errors import SpecError
    from stillwatch.mark import LayerParams, MarkConfig

    base = MarkConfig()
    cfg = MarkConfig.from_dict({"provider": {"scheme": "kgw", "delta": 2.5}, "account": None, "candidates": 64})
    assert cfg.provider == LayerParams(scheme="kgw", context_width=base.provider.context_width, gamma=base.provider.gamma, delta=2.5,
                                       depth=base.provider.depth)
    assert cfg.account is None and cfg.candidates == 64 and cfg.sharing == base.sharing
    assert MarkConfig.from_dict(cfg.to_dict()) == cfg  # round trip
    path = tmp_path / "wm.json"
    path.write_text(json.dumps({"provider": {"context_width": 3}}))
    assert MarkConfig.load(path).provider.context_width == 3
    with pytest.raises(SpecError, match="unknown watermark config field.*colour"):
        MarkConfig.from_dict({"colour": 1})
    with pytest.raises(SpecError, match="unknown provider layer field.*strength"):
        MarkConfig.from_dict({"provider": {"strength": 1}})
    with pytest.raises(SpecError, match="context_width must be an integer in 1..4"):
        MarkConfig.from_dict({"provider": {"context_width": 9}})
    with pytest.raises(SpecError, match="not found"):
        MarkConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SpecError, match="bad.json is not a JSON watermark config"):
        MarkConfig.load(tmp_path / "bad.json")
