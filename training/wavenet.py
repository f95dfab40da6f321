"""The wavecast-wavenet-1 network in PyTorch, teacher-forced over whole segments, computing exactly
what the C++ CPU reference (kernels/cpu/generator_cpu.cpp, the definition) computes sample by
sample, with the same tensor names and layouts as the model file (kernels/model.cpp), so that a
trained model exports by writing its state dict.

Per lane, for sample t of frame k (frame_hop samples per frame):
  conditioning  C[k] = proj(tanh(conv3([features; instrument embedding] over frames k-2..k)))
                (frames before the first are zeros), interpolated within frame k from C[k-1]
                (zero before the first) to C[k], which it reaches on the frame's last sample;
  input         x = embed[class of sample t-1] (the silence class A/2 before the first);
  layer l       z = conv_l(x[t - d_l], x[t]) + bias + C_l(t); a = tanh(z[:R]) * sigmoid(z[R:]);
                skip += skip_l(a); x += res_l(a) (not after the last layer); x[t - d] is zero for
                t < d;
  excitation    (when excitation_harmonics K > 0) for sample n in frame k, the 2K channels
                  e[2h-2] = sum_p v_p[k] sin(2 pi frac((n - s_p) h f_p / rate)),
                  e[2h-1] = sum_p v_p[k] cos(2 pi frac((n - s_p) h f_p / rate)),   h = 1..K,
                over the pitches p the frame's velocities v_p[k] say are sounding, s_p the first
                sample of the frame its note started in (wavecast_export.start_frames), f_p =
                440 * 2^((p - 69) / 12), leaving out harmonics at or above half the rate; z of
                every layer adds its rows of excitation.weight [2RL, 2K] times e, and the input x
                adds excitation.input.weight [R, 2K] times e;
  head          logits = out2(relu(out1(relu(skip))))."""

import json

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io
import wavecast_export

ARCHITECTURE = "wavecast-wavenet-1"
FEATURE_LAYOUT = "notes-v1"
FEATURES = 258

# The instrument table of the shipped shapes (kernels/model.cpp named_shape): GM programs. Their
# releases (the silence gate's hold) are not written here: the engine takes them from its own
# table (house_instruments) for a model file that does not say.
INSTRUMENTS = [
    {"name": "drums", "program": 0, "drums": True},
    {"name": "electric_bass", "program": 33, "drums": False},
    {"name": "piano", "program": 0, "drums": False},
    {"name": "strings", "program": 48, "drums": False},
    {"name": "lead_square", "program": 80, "drums": False},
    {"name": "pad_warm", "program": 89, "drums": False},
    {"name": "electric_piano", "program": 4, "drums": False},
    {"name": "acoustic_guitar", "program": 24, "drums": False},
]

SHAPES = {
    "tiny": dict(residual_channels=8, skip_channels=16, layers=4, dilation_cycle=4, cond_hidden=8, audio_classes=64,
                 excitation_harmonics=2),
    "small": dict(residual_channels=32, skip_channels=64, layers=10, dilation_cycle=10, cond_hidden=32, audio_classes=256,
                  excitation_harmonics=4),
    "medium": dict(residual_channels=64, skip_channels=128, layers=20, dilation_cycle=10, cond_hidden=64, audio_classes=256,
                   excitation_harmonics=4),
}
PITCHES = 128


def spec_for(shape):
    spec = dict(SHAPES[shape])
    spec.update(sample_rate=16000, frame_hop=160, cond_features=FEATURES, instrument_dim=16, output="mulaw",
                feature_layout=FEATURE_LAYOUT, instruments=INSTRUMENTS)
    return spec


def pitch_increments(harmonics, rate):
    """[harmonics, 128] float64: cycles per sample h f_p / rate, zero at or above half the rate (left
    out), as kernels/excitation.h computes them."""
    f = 440.0 * 2.0 ** ((np.arange(PITCHES) - 69) / 12.0)
    inc = np.arange(1, harmonics + 1)[:, None] * f[None, :] / rate
    return np.where(inc < 0.5, inc, 0.0)


def mulaw_encode(x, classes):
    """Samples in [-1, 1] to classes, as kernels/mulaw.h (round to nearest)."""
    mu = classes - 1
    x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(np.rint((y + 1.0) * 0.5 * mu), 0, mu).astype(np.int64)


def training_audio(audio, pre_emphasis=0.0, level=0.0):
    """What the network is trained to play, from a dataset item's float lanes [lanes, samples]:
    with level > 0, each lane scaled so that its peak is `level` (FluidSynth renders at gain 0.5,
    far below full scale, and the loudness stage's +20 dB then lifts the network's noise with its
    music); with pre_emphasis a > 0, each lane filtered by 1 - a z^-1, so that the network's
    sampling and quantisation noise, white in that domain, comes out under the music's spectrum
    once the engine de-emphasises (kernels/emphasis.h). Filtered values past +-1 clip at encoding."""
    x = np.asarray(audio, dtype=np.float64)
    if level > 0:
        peak = np.abs(x).max(axis=-1, keepdims=True)
        x = x * np.where(peak > 0, level / np.maximum(peak, 1e-12), 1.0)
    if pre_emphasis > 0:
        x = np.concatenate([x[..., :1], x[..., 1:] - pre_emphasis * x[..., :-1]], axis=-1)
    return x


def de_emphasise(x, pre_emphasis):
    """The engine's output filter 1 / (1 - a z^-1) (kernels/emphasis.h), from a zero state."""
    y = np.asarray(x, dtype=np.float64)
    if pre_emphasis <= 0:
        return y
    import scipy.signal  # here, not above: a GPU machine trains without SciPy
    return scipy.signal.lfilter([1.0], [1.0, -pre_emphasis], y, axis=-1)


def mulaw_decode(cls, classes):
    mu = classes - 1
    y = 2.0 * np.asarray(cls, dtype=np.float64) / mu - 1.0
    return np.sign(y) * ((1.0 + mu) ** np.abs(y) - 1.0) / mu


class WaveNet(torch.nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        R, S, A, L = spec["residual_channels"], spec["skip_channels"], spec["audio_classes"], spec["layers"]
        H, E, N = spec["cond_hidden"], spec["instrument_dim"], len(spec["instruments"])
        self.R, self.L, self.A, self.hop = R, L, A, spec["frame_hop"]
        self.dilations = [2 ** (l % spec["dilation_cycle"]) for l in range(L)]
        self.embed = torch.nn.Parameter(torch.randn(A, R))
        self.instrument_embed = torch.nn.Parameter(torch.randn(N, E))
        self.cond_conv = torch.nn.Conv1d(spec["cond_features"] + E, H, 3)
        self.cond_proj = torch.nn.Conv1d(H, 2 * R * L, 1)
        self.convs = torch.nn.ModuleList(torch.nn.Conv1d(R, 2 * R, 2) for _ in range(L))
        self.res = torch.nn.ModuleList(torch.nn.Conv1d(R, R, 1) for _ in range(L))
        self.skip = torch.nn.ModuleList(torch.nn.Conv1d(R, S, 1) for _ in range(L))
        self.out1 = torch.nn.Conv1d(S, A, 1)
        self.out2 = torch.nn.Conv1d(A, A, 1)
        self.K = spec.get("excitation_harmonics", 0)
        if self.K:
            self.excitation = torch.nn.Linear(2 * self.K, 2 * R * L, bias=False)
            self.excitation_input = torch.nn.Linear(2 * self.K, R, bias=False)
            self.register_buffer("increments", torch.from_numpy(pitch_increments(self.K, spec["sample_rate"])), persistent=False)

    def receptive_field(self):
        return 1 + sum(self.dilations)

    def conditioning(self, features, instruments):
        """features [B, K, F], instruments [B, K, N] (weights over the table) -> per sample
        [B, K * hop, 2RL], the interpolation included, conv biases not."""
        emb = instruments @ self.instrument_embed  # [B, K, E]
        x = torch.cat([features, emb], dim=2).transpose(1, 2)  # [B, F+E, K]
        h = torch.tanh(self.cond_conv(F.pad(x, (2, 0))))
        c = self.cond_proj(h).transpose(1, 2)  # [B, K, 2RL]
        prev = F.pad(c, (0, 0, 1, 0))[:, :-1]  # C[k-1], zero before the first frame
        frac = torch.arange(1, self.hop + 1, dtype=c.dtype, device=c.device) / self.hop  # [hop]
        up = prev.unsqueeze(2) + frac[:, None] * (c - prev).unsqueeze(2)  # [B, K, hop, 2RL]
        return up.reshape(c.shape[0], -1, c.shape[2])

    @staticmethod
    def note_starts_of(features):
        """features [B, K, F] (numpy or tensor) whose first frame is a generator's first ->
        [B, K, 128] the frame each sounding note started in (-1: silent), as the engine keeps them."""
        f = np.asarray(features.detach().cpu() if torch.is_tensor(features) else features).transpose(1, 0, 2)
        return torch.from_numpy(np.stack([wavecast_export.start_frames(f, b) for b in range(f.shape[1])]))

    def excitation_signal(self, features, start, note_frames):
        """features [B, K, F], start [B] (the sample index of each segment's first sample),
        note_frames [B, K, 128] (the frame index, counted as start is, of each sounding note's
        start frame; -1 silent) -> e [B, K * hop, 2 harmonics]; only the pitches that sound
        somewhere in the batch are computed."""
        vel = features[:, :, :PITCHES]
        present = torch.nonzero(vel.amax(dim=(0, 1)) > 0).flatten()
        B, T = features.shape[0], features.shape[1] * self.hop
        if present.numel() == 0:
            return features.new_zeros(B, T, 2 * self.K)
        v = vel[:, :, present].repeat_interleave(self.hop, dim=1)  # [B, T, U]
        s = (note_frames[:, :, present].to(features.device) * self.hop).repeat_interleave(self.hop, dim=1)  # [B, T, U]
        n = start.to(features.device)[:, None] + torch.arange(T, device=features.device)  # [B, T]
        elapsed = torch.clamp(n[:, :, None] - s, min=0).to(torch.float64)  # silent pitches have v = 0
        inc = self.increments[:, present]  # [H, U]
        c = elapsed[:, :, None, :] * inc[None, None]  # [B, T, H, U] cycles, float64 as the engine
        phase = (2.0 * np.pi * (c - torch.floor(c))).to(features.dtype)
        on = (inc > 0).to(features.dtype)
        s = torch.einsum("btu,bthu->bth", v, torch.sin(phase) * on)
        co = torch.einsum("btu,bthu->bth", v, torch.cos(phase) * on)
        return torch.stack([s, co], dim=3).reshape(B, T, 2 * self.K)

    def forward(self, inputs, features, instruments, start=None, head_from=0, note_frames=None):
        """inputs [B, T] classes of the samples before each (T = K * hop) -> logits [B, T - head_from, A]
        of the samples from head_from on (training skips the receptive field's warm-up, where the
        output head, the largest product, would be computed for nothing); start [B]: the absolute
        sample index of each segment's first sample and note_frames [B, K, 128] the start frame
        of each sounding note (for the excitation; if not given, each segment is taken as a
        generator's first frames). Time-major, every product a matrix multiply over all B * T samples:
        on a CPU this is several times faster than dilated Conv1d at these widths."""
        cond = self.conditioning(features, instruments)
        x = self.embed[inputs]  # [B, T, R]
        if self.K:
            if start is None:
                start = torch.zeros(inputs.shape[0], dtype=torch.int64)
                note_frames = self.note_starts_of(features)
            e = self.excitation_signal(features, start, note_frames)
            cond = cond + self.excitation(e)
            x = x + self.excitation_input(e)
        T, R = x.shape[1], self.R
        skip = 0
        # split, not slices: one gradient concatenation instead of a zero-filled copy per slice.
        cond_layers = torch.split(cond, 2 * R, dim=2)
        for l, d in enumerate(self.dilations):
            w = self.convs[l].weight  # [2R, R, 2]: tap 0 sees x[t - d], tap 1 sees x[t]
            past = torch.cat([x.new_zeros(x.shape[0], d, R), x[:, :T - d]], dim=1)
            z = F.linear(torch.cat([past, x], dim=2), torch.cat([w[:, :, 0], w[:, :, 1]], dim=1), self.convs[l].bias)
            filt, gate = torch.chunk(z + cond_layers[l], 2, dim=2)
            a = torch.tanh(filt) * torch.sigmoid(gate)
            skip = skip + F.linear(a, self.skip[l].weight[:, :, 0], self.skip[l].bias)
            if l + 1 < self.L:
                x = x + F.linear(a, self.res[l].weight[:, :, 0], self.res[l].bias)
        h = torch.relu(F.linear(torch.relu(skip[:, head_from:]), self.out1.weight[:, :, 0], self.out1.bias))
        return F.linear(h, self.out2.weight[:, :, 0], self.out2.bias)

    # -- the model file --------------------------------------------------------------------------

    def tensors(self):
        """The model file's tensors, named and shaped as kernels/model.cpp expects."""
        t = {"embed": self.embed, "instrument_embed": self.instrument_embed,
             "cond.conv.weight": self.cond_conv.weight, "cond.conv.bias": self.cond_conv.bias,
             "cond.proj.weight": self.cond_proj.weight[:, :, 0], "cond.proj.bias": self.cond_proj.bias,
             "out1.weight": self.out1.weight[:, :, 0], "out1.bias": self.out1.bias,
             "out2.weight": self.out2.weight[:, :, 0], "out2.bias": self.out2.bias}
        if self.K:
            t["excitation.weight"] = self.excitation.weight
            t["excitation.input.weight"] = self.excitation_input.weight
        for l in range(self.L):
            p = f"layers.{l}."
            t[p + "conv.weight"], t[p + "conv.bias"] = self.convs[l].weight, self.convs[l].bias
            t[p + "res.weight"], t[p + "res.bias"] = self.res[l].weight[:, :, 0], self.res[l].bias
            t[p + "skip.weight"], t[p + "skip.bias"] = self.skip[l].weight[:, :, 0], self.skip[l].bias
        return {k: v.detach().cpu().float().numpy() for k, v in t.items()}

    def save(self, path, provenance, random_weights=False):
        meta = dict(self.spec, architecture=ARCHITECTURE, weights="random" if random_weights else "trained",
                    provenance=provenance)
        safetensors_io.write(path, self.tensors(), {"wavecast": json.dumps(meta)})

    @staticmethod
    def load(path):
        tensors, meta = safetensors_io.read(path)
        spec = json.loads(meta["wavecast"])
        if spec.get("architecture") != ARCHITECTURE:
            raise ValueError(f"{path}: architecture {spec.get('architecture')!r}, not {ARCHITECTURE}")
        keys = ("residual_channels", "skip_channels", "audio_classes", "layers", "dilation_cycle", "sample_rate",
                "frame_hop", "cond_features", "cond_hidden", "instrument_dim", "output", "feature_layout", "instruments")
        net = WaveNet(dict({k: spec[k] for k in keys}, excitation_harmonics=spec.get("excitation_harmonics", 0),
                           pre_emphasis=spec.get("pre_emphasis", 0.0)))
        own = net.tensors()
        with torch.no_grad():
            for name, value in tensors.items():
                if name not in own or own[name].shape != value.shape:
                    raise ValueError(f"{path}: tensor {name} {value.shape} does not fit the metadata")
                net._param(name).copy_(torch.from_numpy(np.array(value)).reshape(net._param(name).shape))
        return net, spec

    def _param(self, name):
        table = {"embed": self.embed, "instrument_embed": self.instrument_embed, "cond.conv.weight": self.cond_conv.weight,
                 "cond.conv.bias": self.cond_conv.bias, "cond.proj.weight": self.cond_proj.weight,
                 "cond.proj.bias": self.cond_proj.bias, "out1.weight": self.out1.weight, "out1.bias": self.out1.bias,
                 "out2.weight": self.out2.weight, "out2.bias": self.out2.bias}
        if self.K:
            table["excitation.weight"] = self.excitation.weight
            table["excitation.input.weight"] = self.excitation_input.weight
        if name in table:
            return table[name]
        _, l, kind, what = name.split(".")
        module = {"conv": self.convs, "res": self.res, "skip": self.skip}[kind][int(l)]
        return getattr(module, what)
