"""A client for wavecastd's control protocol, for station scripts: schedulers, playlists, panels.

One request, one reply: JSON over a ZeroMQ REQ socket (Debian's python3-zmq), as the `wavecast`
CLI speaks it. A request without a reply is retried on a fresh socket, then TimeoutError. A reply
with "ok": false raises WavecastError with the daemon's code and message.

    from wavecast_client import Client
    c = Client("tcp://127.0.0.1:5557")
    c.style("lofi", crossfade=8)
    c.set(temperature=0.8, stream="main")
    print(c.status()["streams"][0]["style"])

For a daemon with [security] curve = true, pass server_key (its public key, Z85, or its .pub file)
and key_file (our pair from `wavecast keygen`).
"""

import json
import tomllib

import zmq


class WavecastError(Exception):
    """The daemon refused a request: `code` (e.g. "unknown_style") and its message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _public_key(key_or_path):
    if len(key_or_path) == 40 and not key_or_path.endswith(".pub"):
        return key_or_path
    with open(key_or_path, "rb") as f:
        return tomllib.load(f)["public"]


class Client:
    def __init__(self, endpoint="tcp://127.0.0.1:5557", timeout_ms=3000, retries=3, server_key=None, key_file=None):
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.retries = retries
        self._curve = None
        if server_key or key_file:
            if not (server_key and key_file):
                raise ValueError("CURVE needs both server_key and key_file")
            with open(key_file, "rb") as f:
                pair = tomllib.load(f)
            self._curve = (_public_key(server_key), pair["public"], pair["secret"])
        self._ctx = zmq.Context.instance()

    def request(self, cmd, **fields):
        """Sends {"cmd": cmd, **fields} (None values left out); returns the reply's body."""
        message = {"cmd": cmd, **{k: v for k, v in fields.items() if v is not None}}
        # allow_nan=False: json.dumps writes NaN and Infinity, which are not JSON; refuse them here,
        # before the daemon has to.
        try:
            payload = json.dumps(message, allow_nan=False).encode()
        except ValueError as e:
            raise WavecastError("bad_request", f"{cmd}: a number is NaN or infinite ({e})") from None
        for _ in range(self.retries):
            s = self._ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            if self._curve:
                s.curve_serverkey, s.curve_publickey, s.curve_secretkey = (k.encode() for k in self._curve)
            try:
                s.connect(self.endpoint)
                s.send(payload)
                if s.poll(self.timeout_ms, zmq.POLLIN):
                    reply = json.loads(s.recv())
                    if not reply.get("ok"):
                        error = reply.get("error", {})
                        raise WavecastError(error.get("code", "error"), error.get("message", json.dumps(reply)))
                    return reply
            finally:
                s.close()
        raise TimeoutError(f"no reply from {self.endpoint} after {self.retries} tries of {self.timeout_ms} ms")

    def ping(self):
        return self.request("ping")

    def status(self):
        return self.request("status")

    def styles(self):
        return [s["name"] for s in self.request("styles")["styles"]]

    def style(self, name, stream=None, crossfade=None, now=None, blend=None):
        """Changes the style at the next bar (the next beat with now=True), crossfading over
        `crossfade` seconds; `blend` maps style names to weights and includes `name`."""
        return self.request("style", name=name, stream=stream, crossfade=crossfade, now=now, blend=blend)

    def set(self, stream=None, **params):
        """Live parameters by name (`wavecast params` lists them): set(temperature=0.8)."""
        return self.request("set", stream=stream, params=params)

    def record(self, path, stream=None, seconds=None, bits=None, midi=None, overwrite=None):
        return self.request("record", path=path, stream=stream, seconds=seconds, bits=bits, midi=midi, overwrite=overwrite)

    def stop_record(self, stream=None):
        return self.request("stop-record", stream=stream)

    def score(self, path, stream=None):
        return self.request("score", path=path, stream=stream)

    def cue(self, what, stream=None):
        """A performer's cue: "fill" or "next_section"."""
        return self.request("cue", what=what, stream=stream)
