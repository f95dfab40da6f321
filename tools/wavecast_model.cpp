// wavecast-model: writes a model with seeded random weights (for tests and the first demo, until
// trained models exist), and describes a model file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "kernels/model.h"

int main(int argc, char** argv) {
    CLI::App app{"wavecast-model: make or inspect wavecast model files"};
    app.require_subcommand(1);

    auto* random = app.add_subcommand("random", "write a model with seeded random (untrained) weights");
    std::string shape = "small", out;
    uint64_t seed = 1;
    random->add_option("--shape", shape, "tiny, small or medium (nv-wavenet's R=64 S=128 A=256 L=20)");
    random->add_option("--seed", seed, "seed of the weights");
    random->add_option("--out", out, "output .safetensors file")->required();

    auto* info = app.add_subcommand("info", "print a model's hyper-parameters as JSON");
    std::string path;
    info->add_option("FILE", path)->required();

    CLI11_PARSE(app, argc, argv);
    try {
        if (*random) {
            const auto model = wavecast::random_model(wavecast::named_shape(shape), seed);
            wavecast::save_model(out, model);
            std::printf("wrote %s: %s, seeded random weights (seed %llu), %d Hz\n", out.c_str(), model.spec.shape_name().c_str(),
                        static_cast<unsigned long long>(seed), model.spec.sample_rate);
        } else {
            const auto m = wavecast::load_model(path);
            nlohmann::json inst = nlohmann::json::array();
            for (const auto& i : m.spec.instruments) inst.push_back({{"name", i.name}, {"program", i.program}, {"drums", i.drums}});
            std::cout << nlohmann::json{{"path", path},
                                        {"shape", m.spec.shape_name()},
                                        {"sample_rate", m.spec.sample_rate},
                                        {"frame_hop", m.spec.frame_hop},
                                        {"excitation_harmonics", m.spec.excitation_harmonics},
                                        {"weights", m.spec.random_weights ? "random" : "trained"},
                                        {"instruments", inst},
                                        {"provenance", nlohmann::json::parse(m.spec.provenance)}}
                             .dump(2)
                      << "\n";
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wavecast-model: %s\n", e.what());
        return 1;
    }
    return 0;
}
