"""Native llama.cpp on the model benchmark's prompt: the yardstick for Prefab's engine.

`cargo xtask bench model` runs this with the test-tools venv's python (llama-cpp-python,
pinned in tests/python/requirements.txt), through tests/bench/model_bench.mjs, which
folds its figures into the table. It prints figures and never asserts them.

Reads one JSON object on stdin:
    {"model": path, "messages": [...], "new_tokens": 64, "runs": 3, "threads": [1, 2]}
and prints one JSON object on stdout: for each thread count, the load time, the prompt's
token count, prefill and decode tokens per second of each measured run (after one warm-up)
and the generated text; plus the process's peak resident memory.

The prompt is rendered with the chat template in the GGUF file (llama-cpp-python's own
Jinja2 formatter, as its chat completions do) and tokenized with special tokens read, so
the model sees what Prefab's worker and wllama feed it; the driver prints all three token
counts. A generation is greedy and ignores end of sequence, like the others': the first
new token comes from the prefill's logits, then 63 single-token passes, and decode
counts those passes over their time, as Prefab and the driver's wllama figures do.
"""

import json
import resource
import sys
import time

import llama_cpp as llama_cpp_package
import numpy as np
from llama_cpp import Llama, llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter


def load(model, threads):
    start = time.perf_counter()
    # n_ubatch 512: the whole ~300-token prompt goes through in one matrix-matrix pass,
    # as llama.cpp's server and wllama read it.
    llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_ubatch=512,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    return llm, time.perf_counter() - start


def prompt_tokens(llm, messages):
    """The conversation through the file's chat template, then the tokenizer."""
    vocab = llm._model
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=vocab.token_get_text(llm.token_eos()),
        bos_token=vocab.token_get_text(llm.token_bos()) if llm.token_bos() != -1 else "",
    )
    text = formatter(messages=messages).prompt
    # add_bos: BOS only when the file asks for it (llama.cpp's add_special).
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)


def next_token(llm):
    """Greedy: the likeliest token after the last evaluated one."""
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


def generate(llm, tokens, new_tokens):
    llm.reset()  # an empty cache: every run reads the whole prompt
    start = time.perf_counter()
    llm.eval(tokens)
    first = next_token(llm)
    prefilled = time.perf_counter()
    generated = [first]
    while len(generated) < new_tokens:
        llm.eval([generated[-1]])
        generated.append(next_token(llm))
    ended = time.perf_counter()
    return {
        "prompt_tokens": len(tokens),
        "generated_tokens": len(generated),
        "prefill_tokens_per_second": len(tokens) / (prefilled - start),
        "decode_tokens_per_second": (len(generated) - 1) / (ended - prefilled),
        "text": llm.detokenize(generated).decode("utf-8", errors="replace"),
    }


def main():
    request = json.load(sys.stdin)
    results = {"llama_cpp_python": llama_cpp_package.__version__, "threads": {}}
    for threads in request["threads"]:
        llm, seconds = load(request["model"], threads)
        tokens = prompt_tokens(llm, request["messages"])
        generate(llm, tokens, request["new_tokens"])  # warm-up
        runs = [generate(llm, tokens, request["new_tokens"]) for _ in range(request["runs"])]
        results["threads"][str(threads)] = {"load_seconds": seconds, "runs": runs}
        print(f"native llama.cpp, {threads} thread(s): prefill "
              + ", ".join(f"{r['prefill_tokens_per_second']:.1f}" for r in runs) + " tok/s; decode "
              + ", ".join(f"{r['decode_tokens_per_second']:.1f}" for r in runs) + " tok/s", file=sys.stderr)
        llm.close()
    # ru_maxrss is in KiB on Linux: the whole process's peak, Python and both loads included.
    results["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
