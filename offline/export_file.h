// `wavecastd export`: the conditioning a style (or a given score) gives the network, written for
// the training tools. It runs the live stream's Renderer, composer and instrument mapping
// included, with the network replaced by a tap that keeps what it is handed, so the model is
// trained on exactly what the engine will feed it.
//
// The file is safetensors: "features" F32 [frames, lanes, 258] (notes-v1, frame_features.h),
// "instruments" F32 [frames, lanes, N] (each lane's weights over the model's instrument table),
// and __metadata__ "wavecast_export": JSON with layout, sample_rate, frame_hop, lanes, seed,
// tempo, the style or score, the instrument table and each lane's track (name, program, drums,
// MIDI channel). `--midi` writes the same notes as a standard MIDI file, for the synthesiser
// that renders the training audio. training/wavecast_export.py reads both back.
//
// With `--play` the network plays the same frames as `render` would (backend, seed keys, the
// config's sampling), and "samples" F32 [lanes, frames * frame_hop] holds what each lane played,
// before the de-emphasis (mu-law decoded, pre-emphasised where the model is): the network's own
// past, for the diagnostics that compare it with the true one (training/phase_loss.py).
#pragma once

#include "offline/render_file.h"
#include "offline/setup.h"

namespace wavecast {

// Uses the options of `render` (style or score, seconds, seed, lanes, tempo, intensity,
// temperature, midi); `out` is the .safetensors file. Throws naming what failed.
void export_conditioning(const OfflineSetup& setup, const RenderOptions& options);

}  // namespace wavecast
