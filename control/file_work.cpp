#include "control/file_work.h"

namespace wavecast {

using json = nlohmann::json;

FileWork::FileWork() : thread_([this] { loop(); }) {}

FileWork::~FileWork() {
    {
        std::lock_guard lock(mu_);
        quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

bool FileWork::submit(Deliver deliver, std::function<json()> work) {
    {
        std::lock_guard lock(mu_);
        if (jobs_.size() >= kMaxQueued) return false;
        jobs_.push_back({std::move(deliver), std::move(work)});
    }
    wake_.notify_one();
    return true;
}

std::vector<FileWork::Done> FileWork::take_done() {
    std::lock_guard lock(mu_);
    std::vector<Done> out;
    out.swap(done_);
    return out;
}

bool FileWork::idle() const {
    std::lock_guard lock(mu_);
    return jobs_.empty() && running_ == 0 && done_.empty();
}

void FileWork::loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
        if (quit_) return;
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        ++running_;
        lock.unlock();
        json reply = job.work();  // never throws (Engine::handle's contract)
        lock.lock();
        --running_;
        done_.push_back({std::move(job.deliver), std::move(reply)});
    }
}

}  // namespace wavecast
