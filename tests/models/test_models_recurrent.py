import pytest
import torch

from foretune import models


def seed_formula(gates: int, inputs: int, hidden: int) -> int:
    """The seed's per-layer count, gates * (in + h + 1) * h (one bias vector per gate)."""
    return gates * (inputs + hidden + 1) * hidden


@pytest.mark.parametrize(("name", "gates"), [("lstm", 4), ("gru", 3), ("bilstm", 4)])
def test_recurrent_parameter_counts_match_the_formulas(name, gates):
    model = models.build(name, input_size=10, horizon=1, window=20, hidden_sizes=[64, 32])
    directions = 2 if name == "bilstm" else 1
    inputs = 10
    for layer, hidden in zip(model.encoder.rnn.layers, [64, 32], strict=True):
        assert (layer.input_size, layer.hidden_size) == (inputs, hidden)
        counted = sum(p.numel() for p in layer.parameters())
        # PyTorch keeps two bias vectors (b_ih and b_hh): gates * h more than the seed's formula.
        torch_formula = gates * (inputs * hidden + hidden * hidden + 2 * hidden)
        assert torch_formula == seed_formula(gates, inputs, hidden) + gates * hidden
        assert counted == directions * torch_formula
        inputs = hidden * directions
    assert model.encoder.out_features == 32 * directions


def test_seed_example_counts():
    lstm = models.build("lstm", input_size=10, horizon=1, window=5, hidden_sizes=[64]).encoder.rnn.layers[0]
    gru = models.build("gru", input_size=10, horizon=1, window=5, hidden_sizes=[64]).encoder.rnn.layers[0]
    assert sum(p.numel() for p in lstm.parameters()) == 18_944 + 2 * 4 * 64  # seed omits biases
    assert sum(p.numel() for p in gru.parameters()) == 14_208 + 2 * 3 * 64


def test_recurrent_init():
    rnn = models.build("lstm", input_size=3, horizon=1, window=5, hidden_sizes=[16]).encoder.rnn.layers[0]
    for block in rnn.weight_hh_l0.detach().chunk(4):
        torch.testing.assert_close(block @ block.T, torch.eye(16), atol=1e-5, rtol=0)
    assert torch.all(rnn.bias_ih_l0[16:32] == 1) and torch.all(rnn.bias_hh_l0 == 0)


def _checkpoint_keys(gates: int, directions: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the default two-layer build (input 3, horizon 2)."""
    keys = {}
    for layer, (inputs, hidden) in enumerate([(3, 64), (64 * directions, 32)]):
        for suffix in ["", "_reverse"][:directions]:
            prefix = f"encoder.rnn.layers.{layer}."
            keys[f"{prefix}weight_ih_l0{suffix}"] = (gates * hidden, inputs)
            keys[f"{prefix}weight_hh_l0{suffix}"] = (gates * hidden, hidden)
            keys[f"{prefix}bias_ih_l0{suffix}"] = (gates * hidden,)
            keys[f"{prefix}bias_hh_l0{suffix}"] = (gates * hidden,)
    features = 32 * directions
    head = {"regression": 2, "direction": 6}
    for name, outputs in head.items():
        keys[f"head.{name}.weight"] = (outputs, features)
        keys[f"head.{name}.bias"] = (outputs,)
    return keys


@pytest.mark.parametrize(
    ("name", "gates", "directions", "abs_sum", "total"),
    [
        ("lstm", 4, 1, 3510.651503820345, 79.45055864516871),
        ("gru", 3, 1, 2564.135728917867, -38.95555523220901),
        ("bilstm", 4, 2, 8118.869321463909, 192.6809710134686),
    ],
)
def test_recurrent_builds_keep_their_checkpoint_layout_and_seeded_weights(
    name, gates, directions, abs_sum, total
):
    """Saved checkpoints load (same names and shapes) and a seed gives the recorded weights."""
    torch.manual_seed(0)
    state = models.build(name, input_size=3, horizon=2, window=10, dropout=0.2).state_dict()
    assert list(state) == list(_checkpoint_keys(gates, directions))
    assert {k: tuple(v.shape) for k, v in state.items()} == _checkpoint_keys(gates, directions)
    weights = [t.double() for t in state.values()]
    assert sum(float(t.abs().sum()) for t in weights) == pytest.approx(abs_sum, rel=1e-6)
    assert sum(float(t.sum()) for t in weights) == pytest.approx(total, rel=1e-5, abs=1e-3)


def test_lstm_and_gru_share_one_encoder_and_search_space():
    lstm, gru = models.get("lstm"), models.get("gru")
    assert lstm.encoder.__mro__[1] is gru.encoder.__mro__[1]
    assert models.search_space("lstm") == models.search_space("gru")
    assert lstm.defaults() == gru.defaults()


def test_variational_dropout_uses_one_mask_for_all_steps():
    torch.manual_seed(0)
    dropout = models.VariationalDropout(0.5)
    out = dropout(torch.ones(8, 30, 16))
    assert torch.equal(out, out[:, :1].expand_as(out))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(dropout.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_bilstm_features_are_both_final_states():
    torch.manual_seed(0)
    encoder = models.build("bilstm", input_size=2, horizon=1, window=9, hidden_sizes=[8]).encoder.eval()
    x = torch.randn(3, 9, 2)
    outputs, _ = encoder.rnn.layers[0](x)
    torch.testing.assert_close(encoder(x), torch.cat([outputs[:, -1, :8], outputs[:, 0, 8:]], dim=-1))


def test_attention_weights_sum_to_one():
    torch.manual_seed(0)
    model = models.build("attention_lstm", input_size=3, horizon=2, window=15)
    model(torch.randn(5, 15, 3))
    weights = model.encoder.last_attention
    assert weights.shape == (5, 15)
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(5))
