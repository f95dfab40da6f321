// What ptxas said of every CUDA kernel when the build compiled it (kernels/CMakeLists.txt keeps
// the report): no kernel spills registers to local memory, and none asks for more static shared
// memory than a block may have beside the dynamic layouts tested in smem_layout_test and
// cluster_layout_test. Checked where no GPU is: the build machine has ptxas.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

// The reports the build kept: kernels/ptxas-NAME.txt in the build tree.
std::vector<std::string> report_paths() {
    std::vector<std::string> out;
#ifdef WAVECAST_PTXAS_DIR
    for (const auto& e : std::filesystem::directory_iterator(WAVECAST_PTXAS_DIR)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("ptxas-", 0) == 0 && e.path().extension() == ".txt") out.push_back(e.path().string());
    }
#endif
    return out;
}

}  // namespace

TEST(PtxasReport, NoKernelSpillsOrTakesTooMuchStaticSharedMemory) {
    const auto paths = report_paths();
    if (paths.empty()) GTEST_SKIP() << "this build has no CUDA kernels";
    const std::regex entry(R"(Compiling entry function '([^']+)')");
    const std::regex spills(R"((\d+) bytes spill stores, (\d+) bytes spill loads)");
    int kernels = 0;
    for (const auto& path : paths) {
        std::ifstream in(path);
        ASSERT_TRUE(in) << path << " is missing: the build makes it (target wavecast_ptxas_report)";
        std::string line, kernel;
        while (std::getline(in, line)) {
            std::smatch m;
            if (std::regex_search(line, m, entry)) {
                kernel = m[1], ++kernels;
            } else if (std::regex_search(line, m, spills)) {
                EXPECT_EQ(std::stoi(m[1]) + std::stoi(m[2]), 0) << kernel << " spills: " << line;
            } else if (line.find("Used") != std::string::npos && line.find("registers") != std::string::npos) {
                const auto at = line.find("bytes smem");
                if (at == std::string::npos) continue;
                const auto start = line.rfind(' ', at - 2);
                const int smem = std::stoi(line.substr(start + 1, at - start - 2));
                EXPECT_LE(smem, 48 * 1024) << kernel << ": " << line;
            }
        }
    }
    EXPECT_GE(kernels, 10) << "the reports name too few kernels: " << paths.size() << " files";
}
