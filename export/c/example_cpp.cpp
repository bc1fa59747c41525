// example_cpp: a thermo-surrogate ONNX model from C++ through the RAII class surrogate::Model.
//
//   example_cpp MODEL.onnx CELLS.csv OUT.csv [clip|warn|error] [THREADS]
//
// Reads the cells (CSV, header = the model's input names), runs them under the range policy (default error)
// and writes the outputs as CSV. Exit status: 0 success, 1 failure, 2 bad usage.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "example_io.h"
#include "surrogate_ort.hpp"

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        std::cerr << "usage: example_cpp MODEL.onnx CELLS.csv OUT.csv [clip|warn|error] [THREADS]\n";
        return 2;
    }
    int policy = argc > 4 ? surrogate_parse_range_policy(argv[4]) : SURROGATE_RANGE_ERROR;
    if (policy < 0) {
        std::cerr << "example_cpp: the policy is clip, warn or error, not '" << argv[4] << "'\n";
        return 2;
    }
    char *end = nullptr;
    long threads = argc > 5 ? std::strtol(argv[5], &end, 10) : 1;
    if (argc > 5 && (*end != '\0' || end == argv[5] || threads < 0)) {
        std::cerr << "example_cpp: THREADS is a non-negative integer, not '" << argv[5] << "'\n";
        return 2;
    }
    try {
        // a count out of range (beyond int too) is the wrapper's one-line error, naming the range
        surrogate::Model model(argv[1], static_cast<int>(std::min<long>(threads, INT_MAX)),
                               static_cast<surrogate_range_policy>(policy));
        surrogate_print_info(model.handle(), argv[1], stdout);

        char error[1024];
        float *raw = nullptr;
        std::int64_t n_cells = 0;
        if (cells_read_csv(argv[2], model.handle(), &raw, &n_cells, error, sizeof error))
            throw surrogate::Error(error, 0);
        std::vector<float> cells(raw, raw + n_cells * model.n_inputs());
        std::free(raw);

        std::vector<float> outputs = model.run(cells);
        std::cout << "ran " << n_cells << " cells: " << model.out_of_range_cells() << " outside the trained range\n";
        if (cells_write_csv(argv[3], model.handle(), outputs.data(), n_cells, error, sizeof error))
            throw surrogate::Error(error, 0);

        // The same cells as one double array per field, as a finite-volume solver holds them: the same numbers
        // (a network's doubles are its floats widened; the table lookup is in double, its floats those rounded).
        const int n_in = model.n_inputs(), n_out = model.n_outputs();
        std::vector<std::vector<double>> fields(n_in, std::vector<double>(n_cells)), results(n_out, std::vector<double>(n_cells));
        std::vector<const double *> in(n_in);
        std::vector<double *> out(n_out);
        for (int i = 0; i < n_in; i++) {
            for (std::int64_t c = 0; c < n_cells; c++) fields[i][c] = cells[c * n_in + i];
            in[i] = fields[i].data();
        }
        for (int j = 0; j < n_out; j++) out[j] = results[j].data();
        model.run_fields(n_cells, in.data(), out.data());
        for (int j = 0; j < n_out; j++)
            for (std::int64_t c = 0; c < n_cells; c++)
                if (static_cast<float>(results[j][c]) != outputs[c * n_out + j])
                    throw surrogate::Error("the per-field double run differs from the float run", 0);
        surrogate_counters totals = model.counters();
        std::cout << "counters: calls=" << totals.calls << " cells=" << totals.cells
                  << " out_of_range=" << totals.out_of_range_cells << " off_manifold=" << totals.off_manifold_cells
                  << "\n";
    } catch (const surrogate::Error &e) {  // the wrapper's status, where it gave one: what kind of failure
        std::cerr << "example_cpp: error: " << e.what()
                  << (e.code() ? std::string(" [") + surrogate_status_text(e.code()) + "]" : std::string()) << "\n";
        return 1;
    }
    return 0;
}
