// The shared-memory layouts the CUDA kernels and their launches share, checked on the CPU for
// every size the code can ask for: each region aligned, none overlapping another, all within the
// block's limit. (The H200 found the masking kernel's masker list at an odd address for 513 bins.)
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <vector>

#include "kernels/cuda/generic_layout.h"
#include "kernels/cuda/psychoacoustic_layout.h"
#include "kernels/masking.h"
#include "kernels/model.h"

using namespace wavecast;

namespace {

struct Region {
    size_t at, bytes, align;
};

// Regions in order: aligned, not overlapping, inside `total`.
void expect_sound(const std::vector<Region>& regions, size_t total, const std::string& what) {
    size_t end = 0;
    for (size_t i = 0; i < regions.size(); ++i) {
        const Region& r = regions[i];
        EXPECT_EQ(r.at % r.align, 0u) << what << ": region " << i << " at " << r.at << " is not " << r.align << "-byte aligned";
        EXPECT_GE(r.at, end) << what << ": region " << i << " overlaps the one before";
        end = r.at + r.bytes;
    }
    EXPECT_LE(end, total) << what << ": regions run past the size asked for";
}

}  // namespace

TEST(SmemLayout, CarverAlignsEachRegion) {
    SmemCarver c;
    EXPECT_EQ(c.take(3, 1), 0u);
    EXPECT_EQ(c.take(4, 4), 4u);
    EXPECT_EQ(c.take(1, 16), 16u);
    EXPECT_EQ(c.take(8, 8), 24u);
    EXPECT_EQ(c.end, 32u);
}

TEST(SmemLayout, MaskingThresholdIsAlignedForEveryBinCount) {
    static_assert(alignof(DevMasker) == 4 && sizeof(DevMasker) == 16, "DevMasker is four words");
    for (int bins = 1; bins <= 8193; ++bins) {
        const PsychoSmemLayout l = psycho_smem_layout(bins);
        const size_t n = static_cast<size_t>(bins);
        expect_sound({{l.power, 4 * n, 4},
                      {l.lin, 4 * n, 4},
                      {l.tonal, n, 1},
                      {l.claimed, n, 1},
                      {l.maskers, sizeof(DevMasker) * static_cast<size_t>(l.max_maskers), alignof(DevMasker)}},
                     l.bytes, "masking threshold, " + std::to_string(bins) + " bins");
        if (HasFailure()) return;
    }
}

TEST(SmemLayout, MaskingThresholdFitsABlockAtEveryRateTheStageTakes) {
    // Hopper gives a block at most 227 KiB of shared memory (after cudaFuncSetAttribute).
    std::set<int> sizes;
    for (int rate = 8000; rate <= 384000; rate += 50) sizes.insert(masking_fft_size(rate));
    for (int n : sizes) {
        const int bins = n / 2 + 1;
        EXPECT_LE(psycho_smem_layout(bins).bytes, 227u * 1024u) << "FFT size " << n;
    }
    EXPECT_TRUE(sizes.count(1024)) << "48 kHz takes a 1024-point FFT (513 bins, the size that failed)";
}

// Shapes as R, S, A: the named ones, nv-wavenet's large, and odd sizes that would misalign a
// region packed without care.
const int kGenericShapes[][3] = {{8, 16, 64}, {32, 64, 256}, {64, 128, 256}, {128, 256, 256}, {3, 5, 7}, {24, 40, 96}};

TEST(SmemLayout, GenericGeneratorIsAlignedForEveryShapeAndLaneCount) {
    for (const auto& shape : kGenericShapes) {
        const int R = shape[0], S = shape[1], A = shape[2];
        for (int X : {0, 1, 4, 8})
            for (int lanes : {1, 2, 3, 4, 5, 6, 7, 8, 16, 32}) {  // the generic kernel's, then the tensor kernel's
                const GenericLayout l = generic_layout(lanes, R, S, A, X);
                const size_t b = static_cast<size_t>(lanes), f = 4, notes = X > 0 ? b * kPitches : 0;
                expect_sound({{l.x, b * R * f, 4},
                              {l.in, b * 2 * R * f, 4},
                              {l.z, b * 2 * R * f, 4},
                              {l.act, b * R * f, 4},
                              {l.skip, b * S * f, 4},
                              {l.h1, b * A * f, 4},
                              {l.logits, b * A * f, 4},
                              {l.exc, b * X * f, 4},
                              {l.note_start, notes * 8, 8},
                              {l.note_vel, notes * 4, 4},
                              {l.note_pitch, notes * 4, 4},
                              {l.cls, b * 4, 4},
                              {l.notes, b * 4, 4}},
                             l.bytes,
                             (std::ostringstream() << 'R' << R << " S" << S << " A" << A << " X" << X << ", " << lanes << " lanes").str());
                if (HasFailure()) return;
            }
    }
}

TEST(SmemLayout, GenericGeneratorHoldsEveryNamedShapeInABlock) {
    // The host grows a block's lanes only while they fit; every shipped shape fits all eight.
    for (const char* name : {"tiny", "small", "medium"}) {
        const ModelSpec spec = named_shape(name);
        EXPECT_LE(
            generic_layout(kGenericMaxLanes, spec.residual_channels, spec.skip_channels, spec.audio_classes, spec.excitation_channels())
                .bytes,
            227u * 1024u)
            << name;
        // The tensor kernel's 32 lanes a block, which it takes only where they fit; the
        // shipped shapes do (the medium: about 6 KiB a lane, its notes and one sample's activations).
        EXPECT_LE(generic_layout(32, spec.residual_channels, spec.skip_channels, spec.audio_classes, spec.excitation_channels()).bytes,
                  227u * 1024u)
            << name;
    }
}
