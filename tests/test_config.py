import pytest

from fluxstream.config import Config, InputConfig, StftConfig, load_config, parse_override
from fluxstream.errors import ConfigError


def test_defaults():
    c = load_config()
    assert c == Config()
    assert c.input.source == "device" and c.input.block == 0 and c.stft.n_fft == 2048
    assert c.input.block_for("device") == c.input.block_for("demo") == 512
    assert c.input.block_for("file") == 131072
    assert c.replace(input={"realtime": True}).input.block_for("file") == 512
    assert c.replace(input={"block": 100}).input.block_for("file") == 100
    assert c.stft.hop_length == 512 and c.stft.center is True and c.analysis.features == ("rms", "centroid")


def test_file_then_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[input]\nsource = "demo"\nblock = 256\n[stft]\nn_fft = 1024\nwindow = "kaiser(9)"\n'
                 '[analysis]\nfeatures = ["spectrum"]\n[features.rms]\n')
    c = load_config(p, ["input.block=128", "stft.hop_length=256"])
    assert c.input.source == "demo" and c.input.block == 128
    assert c.stft.n_fft == 1024 and c.stft.hop_length == 256 and c.stft.window == "kaiser(9)"
    assert c.analysis.features == ("spectrum",)


@pytest.mark.parametrize("override,message", [
    ("stft.hop_length=0", r"stft.hop_length=0 is not allowed: must be an integer >= 1 \(samples\)"),
    ("stft.n_fft=1.5", r"stft.n_fft=1.5 is not allowed: must be an integer"),
    ("stft.n_fft=true", r"stft.n_fft=true is not allowed"),
    ("stft.win_length=4096", r"stft.win_length=4096 is not allowed: must be an integer in 1..n_fft=2048"),
    ("stft.window=\"hanning\"", r"stft.window='hanning' is not a known window; allowed: hann"),
    ("stft.center=\"yes\"", r"stft.center='yes' is not allowed: must be true or false"),
    ("stft.hop=256", r"unknown key stft.hop; valid keys in \[stft\]: n_fft, hop_length"),
    ("input.source=usb", r"input.source='usb' is not allowed: must be \"device\", \"file\" or \"demo\""),
    ("input.block=-1", r"input.block=-1 is not allowed: must be 0 \(automatic\) or an integer"),
    ("input.sample_rate=-1", r"input.sample_rate=-1 is not allowed: must be an integer >= 0"),
    ("input.select=[0,0]", r"input.select=\[0, 0\] is not allowed"),
    ("input.latency=0", r"input.latency=0 is not allowed"),
    ("input.buffer_s=nan", r"input.buffer_s=nan is not allowed"),
    ("analysis.features=[\"mell\"]", r"analysis.features: unknown feature 'mell'; available: spectrum, power, rms"),
    ("analysis.features=[]", r"analysis.features=\[\] is not allowed: must be a non-empty array"),
    ("features.rms.n=3", r"unknown key features.rms.n; valid keys in \[features.rms\]"),
    ("features.nope.x=1", r"unknown feature 'nope'"),
    ("features.rms=3", r"features.rms=3: \[features\] holds one table per feature"),
    ("outputs.x=1", r"unknown section \[outputs\]; valid sections: input, stft, analysis, features, output, control, plugins"),
    ("output.x=1", r"\[output\] holds \[\[output.osc\]\] tables"),
    ("output.osc.port=0", r"port"),
    ("control.port=-1", r"control.port"),
    ("nodot=1", r"expected section.key=value"),
    ("stft.n_fft", r"expected section.key=value"),
])
def test_errors_name_key_value_and_what_is_allowed(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[input\nsource=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_parse_override_values():
    assert parse_override("input.device=3") == (["input", "device"], 3)
    assert parse_override("input.device=USB Mic") == (["input", "device"], "USB Mic")
    assert parse_override("input.mono=false") == (["input", "mono"], False)
    assert parse_override("analysis.features=[\"rms\"]") == (["analysis", "features"], ["rms"])


def test_direct_construction_is_validated_too():
    with pytest.raises(ConfigError, match="input.channels=0"):
        InputConfig(channels=0)
    with pytest.raises(ConfigError, match="stft.win_length=10 is not allowed"):
        StftConfig(n_fft=8, win_length=10)
    assert InputConfig(select=[1, 0]).select == (1, 0)  # arrays become tuples (frozen)
    assert InputConfig(latency=0.01).latency == 0.01
    assert StftConfig(win_length=None).win_length is None


def test_replace_merges_sections():
    c = Config().replace(input={"source": "demo"})
    assert c.input.source == "demo" and c.input.block == 0
    with pytest.raises(ConfigError):
        Config().replace(input={"block": -1})
