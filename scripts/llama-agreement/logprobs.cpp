// Prints llama.cpp's log-probabilities for a prompt the way ../shared/reference was made
// (one batch for the prompt with logits at every position, f16 KV cache, flash attention on,
// 2 threads), then a greedy continuation one token at a time.
//
//   logprobs [--lora FILE[:SCALE]]... MODEL TEXT [N_GREEDY]
// stdout: one line per prompt position: `token id:logprob × 10` (most likely first),
// then `G id id ...` (the greedy continuation, stopping at end-of-generation).
// FLASH_ATTN=0 in the environment turns flash attention off. GREEDY_TOP10=1 adds, after the
// `G` line, one line `T id:logprob × 10` per greedy step (the distribution it was picked from).
// --lora (repeatable) applies a LoRA adapter with a scale (default 1) as llama.cpp's --lora does.
#include "llama.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

static int argmax(const float * l, int n) {
    int best = 0;
    for (int j = 1; j < n; j++) {
        if (l[j] > l[best]) best = j;
    }
    return best;
}

int main(int argc, char ** argv) {
    // --lora FILE[:SCALE] options, removed from argv
    std::vector<std::pair<std::string, float>> loras;
    {
        int k = 1;
        for (int i = 1; i < argc; i++) {
            if (std::string(argv[i]) == "--lora" && i + 1 < argc) {
                std::string spec = argv[++i];
                float scale = 1.0f;
                const size_t colon = spec.rfind(':');
                if (colon != std::string::npos) {
                    scale = strtof(spec.c_str() + colon + 1, nullptr);
                    spec.resize(colon);
                }
                loras.emplace_back(spec, scale);
            } else {
                argv[k++] = argv[i];
            }
        }
        argc = k;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL TEXT [N_GREEDY]\n", argv[0]);
        return 2;
    }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) return 1;
    const llama_vocab * vocab = llama_model_get_vocab(model);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    const char * fa = getenv("FLASH_ATTN");
    cp.flash_attn_type = (fa && fa[0] == '0') ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_ENABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) return 1;
    std::vector<llama_adapter_lora *> adapters;
    std::vector<float> scales;
    for (const auto & l : loras) {
        llama_adapter_lora * a = llama_adapter_lora_init(model, l.first.c_str());
        if (!a) {
            fprintf(stderr, "cannot load LoRA adapter %s\n", l.first.c_str());
            return 1;
        }
        adapters.push_back(a);
        scales.push_back(l.second);
    }
    if (!adapters.empty() && llama_set_adapters_lora(ctx, adapters.data(), adapters.size(), scales.data()) != 0) {
        return 1;
    }

    const std::string text = argv[2];
    std::vector<llama_token> toks(text.size() + 8);
    const int n = llama_tokenize(vocab, text.c_str(), (int) text.size(), toks.data(), (int) toks.size(), true, true);
    if (n <= 0) return 1;
    toks.resize(n);
    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        batch.token[i] = toks[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    if (llama_decode(ctx, batch) != 0) return 1;

    const int nv = llama_vocab_n_tokens(vocab);
    std::vector<int> idx(nv);
    // ` id:logprob` × 10 of one row of logits, most likely first
    auto top10 = [&](const float * l) {
        double mx = l[argmax(l, nv)], sum = 0;
        for (int j = 0; j < nv; j++) sum += std::exp((double) l[j] - mx);
        const double lse = mx + std::log(sum);
        for (int j = 0; j < nv; j++) idx[j] = j;
        std::partial_sort(idx.begin(), idx.begin() + 10, idx.end(), [&](int a, int b) { return l[a] > l[b]; });
        std::string out;
        char buf[64];
        for (int k = 0; k < 10; k++) {
            snprintf(buf, sizeof buf, " %d:%.5f", idx[k], l[idx[k]] - lse);
            out += buf;
        }
        return out;
    };
    for (int i = 0; i < n; i++) {
        printf("%d%s\n", toks[i], top10(llama_get_logits_ith(ctx, i)).c_str());
    }

    const char * gt = getenv("GREEDY_TOP10");
    const bool greedy_top = gt && gt[0] == '1';
    std::vector<std::string> steps;
    const int n_greedy = argc > 3 ? atoi(argv[3]) : 0;
    const float * last = llama_get_logits_ith(ctx, n - 1);
    llama_token next = argmax(last, nv);
    if (greedy_top && n_greedy > 0) steps.push_back(top10(last));
    printf("G");
    for (int g = 0; g < n_greedy; g++) {
        printf(" %d", next);
        if (llama_vocab_is_eog(vocab, next)) break;
        if (g + 1 == n_greedy) break;
        if (llama_decode(ctx, llama_batch_get_one(&next, 1)) != 0) return 1;
        last = llama_get_logits_ith(ctx, -1);
        next = argmax(last, nv);
        if (greedy_top) steps.push_back(top10(last));
    }
    printf("\n");
    for (const auto & s : steps) printf("T%s\n", s.c_str());
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
