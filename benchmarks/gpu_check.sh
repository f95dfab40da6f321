#!/usr/bin/env bash
# Everything that needs a GPU, in one go (for a lent H100/H200): build for sm_90, run the
# gpu-labelled tests, a compute-sanitizer pass over them, and the GPU benchmarks. Logs go to
# $OUT (or ./gpu-check) for RESULTS.md. Usage: benchmarks/gpu_check.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/gpu-check}
mkdir -p "$out"
cd "$root"
{
  nvidia-smi || true
  nvcc --version | tail -2
} >"$out/machine.txt" 2>&1
# The GPU machine has no Debian packages beyond its image: build only what the kernels need, with
# the headers and libraries scripts/gpu-deps.sh unpacked into .gpudeps/ here (carry: .gpudeps).
deps=$root/.gpudeps/root/usr
export LD_LIBRARY_PATH=$deps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# cuDNN: with the toolkit, else the image's Python wheel (nvidia-cudnn), which ships only the
# versioned libraries; its folder goes on the loader's path for the engines cuDNN loads itself.
if [ ! -e /usr/local/cuda/include/cudnn.h ] && [ -z "${CUDNN_ROOT:-}" ]; then
  CUDNN_ROOT=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
fi
if [ -n "${CUDNN_ROOT:-}" ]; then
  export CUDNN_ROOT LD_LIBRARY_PATH=$CUDNN_ROOT/lib:$LD_LIBRARY_PATH
  echo "cuDNN from $CUDNN_ROOT" >>"$out/machine.txt"
fi
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DWAVECAST_GPU_ONLY=ON \
  -DCMAKE_PREFIX_PATH="$deps" -DWAVECAST_NATIVE=OFF \
  >"$out/configure.log" 2>&1 && cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log" "$out/configure.log"; exit 1; }
build-gpu/tests/gpu_tests 2>&1 | tee "$out/gpu_tests.log" | tail -15
grep "^conditioning" "$out/gpu_tests.log"
compute-sanitizer --tool memcheck build-gpu/tests/gpu_tests --gtest_filter='*Threshold*:*Stage*' >"$out/memcheck.log" 2>&1
tail -3 "$out/memcheck.log"
compute-sanitizer --tool racecheck build-gpu/tests/gpu_tests --gtest_filter='*Threshold*' >"$out/racecheck.log" 2>&1
tail -3 "$out/racecheck.log"
build-gpu/benchmarks/wavecast-bench --backend cuda --stages masking --masking-streams 1 16 64 256 --repeats 5 | tee "$out/bench_masking.jsonl"
build-gpu/benchmarks/wavecast-bench --backend cpu --stages masking --repeats 5 | tee -a "$out/bench_masking.jsonl"
# The generator: memcheck and racecheck on the small shape, then throughput for nv-wavenet's
# shapes and the shipped ones at batch 1, 8, 64 and 256, 32 frames (320 ms) per launch.
compute-sanitizer --tool memcheck build-gpu/tests/gpu_tests --gtest_filter='*Chunking*:ConditioningCudnn.MatchesCpuSmall' >"$out/memcheck_generator.log" 2>&1
tail -3 "$out/memcheck_generator.log"
compute-sanitizer --tool racecheck build-gpu/tests/gpu_tests --gtest_filter='*Chunking*' >"$out/racecheck_generator.log" 2>&1
tail -3 "$out/racecheck_generator.log"
build-gpu/benchmarks/wavecast-bench --backend cuda --stages generator --frames-per-call 32 --seconds 2 --repeats 5 \
  --shapes small medium R32-S128-A256-L16 R64-S128-A256-L20 R64-S256-A256-L30 R128-S256-A256-L20 --batches 1 8 64 256 \
  | tee "$out/bench_generator.jsonl"
# Half-precision weight storage (issue 7's batch-1 figure is for half precision).
for p in fp16 bf16; do
  build-gpu/benchmarks/wavecast-bench --backend cuda --stages generator --frames-per-call 32 --seconds 2 --repeats 5 \
    --precision $p --shapes small R64-S128-A256-L20 R128-S256-A256-L20 --batches 1 8 64 256 \
    | tee -a "$out/bench_generator.jsonl"
done
# The conditioning network on cuDNN against the CPU reference's, 32-frame blocks.
build-gpu/benchmarks/wavecast-bench --backend cuda --stages conditioning --frames-per-call 32 --repeats 5 \
  --shapes small medium --batches 1 8 64 256 | tee "$out/bench_conditioning.jsonl"
build-gpu/benchmarks/wavecast-bench --backend cpu --stages conditioning --frames-per-call 32 --repeats 5 \
  --shapes small medium --batches 1 8 64 256 | tee -a "$out/bench_conditioning.jsonl"
