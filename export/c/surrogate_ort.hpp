// surrogate::Model: RAII around the C wrapper surrogate_ort.h, for C++ solvers.
//
//     surrogate::Model model("flamelet.onnx", /*threads=*/1, SURROGATE_RANGE_CLIP);
//     model.run(n_cells, inputs.data(), outputs.data());   // throws surrogate::Error with the wrapper's message
//
// Move-only: one handle owns one ONNX Runtime session; run may be called from several threads at once (see
// surrogate_ort.h). Solver-grade: Model(path, options) (surrogate_options), run on double arrays, run_fields on one
// array per field, counters(); backend() says whether the file is a network or a table.
#ifndef SURROGATE_ORT_HPP
#define SURROGATE_ORT_HPP

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "surrogate_ort.h"

namespace surrogate {

class Error : public std::runtime_error {
public:
    Error(const std::string &message, int code) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }  // a SURROGATE_ERR_* value (0: an error of the caller's own)

private:
    int code_;
};

class Model {
public:
    // surrogate_create's handle (THREADS: 1..surrogate_max_threads(), 0 or SURROGATE_THREADS_AUTO; ONNX Runtime's
    // spinning), opened through surrogate_open so that Error::code() is the SURROGATE_ERR_* status of a failure.
    explicit Model(const std::string &path, int threads = 1, surrogate_range_policy policy = SURROGATE_RANGE_ERROR)
        : Model(path, create_options(threads, policy))
    {
    }
    // surrogate_open with OPTIONS (fill with surrogate_options_init); Error::code() is the SURROGATE_ERR_* status.
    Model(const std::string &path, const surrogate_options &options)
    {
        char error[1024];
        int status = SURROGATE_OK;
        handle_ = surrogate_open(path.c_str(), &options, &status, error, sizeof error);
        if (!handle_) throw Error(error, status);
    }
    ~Model() { surrogate_destroy(handle_); }
    Model(Model &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Model &operator=(Model &&other) noexcept
    {
        std::swap(handle_, other.handle_);
        return *this;
    }
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    // outputs[n_cells * n_outputs()] from inputs[n_cells * n_inputs()], row-major, written in place.
    void run(std::int64_t n_cells, const float *inputs, float *outputs)
    {
        check(surrogate_run(handle_, n_cells, inputs, outputs));
    }

    // The same in double precision, row-major.
    void run(std::int64_t n_cells, const double *inputs, double *outputs)
    {
        check(surrogate_run_double(handle_, n_cells, inputs, outputs));
    }

    // One contiguous double array per field: inputs[i][cell] -> outputs[j][cell]; outputs[j] null skips output j.
    void run_fields(std::int64_t n_cells, const double *const *inputs, double *const *outputs)
    {
        check(surrogate_run_fields(handle_, n_cells, inputs, outputs));
    }

    // Totals over all calls on this handle (all threads).
    surrogate_counters counters() const
    {
        surrogate_counters totals{};
        surrogate_get_counters(handle_, &totals);
        return totals;
    }

    std::vector<float> run(const std::vector<float> &inputs)
    {
        if (inputs.size() % n_inputs() != 0)
            throw Error("input size " + std::to_string(inputs.size()) + " is not a multiple of the " +
                            std::to_string(n_inputs()) + " inputs per cell", SURROGATE_ERR_ARGUMENT);
        std::int64_t n_cells = static_cast<std::int64_t>(inputs.size() / n_inputs());
        std::vector<float> outputs(static_cast<std::size_t>(n_cells) * n_outputs());
        run(n_cells, inputs.data(), outputs.data());
        return outputs;
    }

    int n_inputs() const { return surrogate_n_inputs(handle_); }
    int n_outputs() const { return surrogate_n_outputs(handle_); }
    std::string input_name(int i) const { return checked(surrogate_input_name(handle_, i), "input", i); }
    std::string output_name(int i) const { return checked(surrogate_output_name(handle_, i), "output", i); }
    std::string input_units(int i) const { return checked(surrogate_input_units(handle_, i), "input", i); }
    std::string output_units(int i) const { return checked(surrogate_output_units(handle_, i), "output", i); }
    std::pair<double, double> input_range(int i) const
    {
        double lo = 0, hi = 0;
        if (surrogate_input_range(handle_, i, &lo, &hi) != SURROGATE_OK) checked(nullptr, "input", i);
        return {lo, hi};
    }
    std::string metadata(const std::string &key) const
    {
        const char *value = surrogate_metadata(handle_, key.c_str());
        return value ? value : "";
    }
    // "table" for a table-backend file (compiled lookup, or its graph with options.table_graph), else "network".
    std::string backend() const { return surrogate_backend(handle_); }
    std::int64_t out_of_range_cells() const { return surrogate_out_of_range_cells(handle_); }
    std::string message() const { return surrogate_message(handle_); }
    surrogate_model *handle() const noexcept { return handle_; }

private:
    static surrogate_options create_options(int threads, surrogate_range_policy policy)
    {
        surrogate_options options;
        surrogate_options_init(&options);
        options.n_threads = threads;
        options.policy = policy;
        options.spinning = 1;  // as surrogate_create
        return options;
    }

    void check(int code) const
    {
        if (code != SURROGATE_OK) throw Error(surrogate_message(handle_), code);
    }

    static std::string checked(const char *text, const char *kind, int i)
    {
        if (!text) throw std::out_of_range(std::string("no ") + kind + " " + std::to_string(i));
        return text;
    }

    surrogate_model *handle_ = nullptr;
};

}  // namespace surrogate

#endif  // SURROGATE_ORT_HPP
