"""The local Hugging Face Hub (xtask/src/hub/) checked by the official Python clients.

Run by `cargo xtask test` and `cargo xtask hub-check` with pytest, from the venv of
hub_requirements.txt, with HF_ENDPOINT pointing at the local Hub, HF_TOKEN a token of
the user `alice`, PREFAB_HUB_TOKEN_BOB one of `bob` (no write access to alice's repos)
and PREFAB_HUB_TOKEN_ORGANIZER one of `organizer` (a member of the org `prefab-test`).
HF_HUB_DISABLE_XET=1 makes huggingface_hub upload large files with plain LFS.

Each test uses the clients as a person would, and checks what comes back.
"""

import io
import json
import os
import random
import urllib.error
import urllib.request

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

ENDPOINT = os.environ["HF_ENDPOINT"]
ALICE = HfApi(endpoint=ENDPOINT, token=os.environ["HF_TOKEN"])
BOB = HfApi(endpoint=ENDPOINT, token=os.environ["PREFAB_HUB_TOKEN_BOB"])
ORGANIZER_TOKEN = os.environ["PREFAB_HUB_TOKEN_ORGANIZER"]
REPO = "alice/py-checks"


def parquet_bytes(rows):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"prompt": [f"prompt {i}" for i in range(rows)], "id": list(range(rows))}), buffer)
    return buffer.getvalue()


def status_of(error):
    return error.response.status_code


def get_json(path, token=None):
    """GET on the hub; (status, X-Error-Code, JSON body)."""
    request = urllib.request.Request(ENDPOINT + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers.get("X-Error-Code"), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Error-Code"), json.load(error)


def post_json(path, body, method="POST"):
    request = urllib.request.Request(ENDPOINT + path, data=json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.load(response)


@pytest.fixture(scope="module", autouse=True)
def repo():
    url = ALICE.create_repo(REPO, repo_type="dataset")
    assert url.repo_id == REPO
    assert url.endswith("/datasets/" + REPO)
    return REPO


def test_whoami_names_the_user_and_their_orgs():
    me = ALICE.whoami()
    assert me["name"] == "alice" and me["type"] == "user"
    assert me["auth"]["accessToken"]["role"] == "write"
    organizer = HfApi(endpoint=ENDPOINT, token=ORGANIZER_TOKEN).whoami()
    assert [org["name"] for org in organizer["orgs"]] == ["prefab-test"]
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(endpoint=ENDPOINT, token="hf_unknown").whoami()
    assert status_of(error.value) == 401


def test_create_repo_again_conflicts_unless_exist_ok():
    assert ALICE.create_repo(REPO, repo_type="dataset", exist_ok=True).repo_id == REPO
    with pytest.raises(HfHubHTTPError) as error:
        ALICE.create_repo(REPO, repo_type="dataset")
    assert status_of(error.value) == 409
    with pytest.raises(HfHubHTTPError) as error:
        BOB.create_repo("alice/not-bobs", repo_type="dataset")
    assert status_of(error.value) == 403


def test_small_text_files_are_regular_and_download_equal():
    ALICE.upload_file(path_or_fileobj=b"# Checks\n\nHello.\n", path_in_repo="notes/hello.md", repo_id=REPO, repo_type="dataset")
    [entry] = [e for e in ALICE.list_repo_tree(REPO, repo_type="dataset", recursive=True) if e.path == "notes/hello.md"]
    assert entry.lfs is None and entry.size == 17
    path = hf_hub_download(REPO, "notes/hello.md", repo_type="dataset", endpoint=ENDPOINT)
    assert open(path, "rb").read() == b"# Checks\n\nHello.\n"


def test_parquet_and_big_binaries_go_through_lfs():
    data = parquet_bytes(50)
    blob = random.Random(1).randbytes(3 * 1024 * 1024)
    ALICE.upload_file(path_or_fileobj=data, path_in_repo="data/train.parquet", repo_id=REPO, repo_type="dataset")
    ALICE.upload_file(path_or_fileobj=blob, path_in_repo="blobs/random.dat", repo_id=REPO, repo_type="dataset")
    tree = {e.path: e for e in ALICE.list_repo_tree(REPO, repo_type="dataset", recursive=True, expand=True)}
    for path, content in [("data/train.parquet", data), ("blobs/random.dat", blob)]:
        assert tree[path].lfs is not None, f"{path} should be stored with LFS"
        assert tree[path].lfs.size == len(content)
        assert tree[path].last_commit is not None
        downloaded = hf_hub_download(REPO, path, repo_type="dataset", endpoint=ENDPOINT)
        assert open(downloaded, "rb").read() == content
    [info] = ALICE.get_paths_info(REPO, ["blobs/random.dat"], repo_type="dataset")
    assert info.lfs is not None and info.size == len(blob)


def test_a_commit_of_several_operations_with_its_parent():
    head = ALICE.dataset_info(REPO).sha
    info = ALICE.create_commit(
        REPO,
        repo_type="dataset",
        operations=[
            CommitOperationAdd("a.txt", b"a"),
            CommitOperationAdd("b/c.jsonl", b'{"x": 1}\n'),
            CommitOperationDelete("notes/hello.md"),
        ],
        commit_message="Several operations",
        parent_commit=head,
    )
    assert len(info.oid) == 40 and info.oid != head
    files = ALICE.list_repo_files(REPO, repo_type="dataset")
    assert "a.txt" in files and "b/c.jsonl" in files and "notes/hello.md" not in files
    commits = ALICE.list_repo_commits(REPO, repo_type="dataset")
    assert commits[0].commit_id == info.oid and commits[0].title == "Several operations"


def test_a_stale_parent_commit_is_refused_with_412():
    stale = ALICE.list_repo_commits(REPO, repo_type="dataset")[1].commit_id
    with pytest.raises(HfHubHTTPError) as error:
        ALICE.create_commit(REPO, repo_type="dataset", operations=[CommitOperationAdd("late.txt", b"x")], commit_message="late", parent_commit=stale)
    assert status_of(error.value) == 412
    assert "late.txt" not in ALICE.list_repo_files(REPO, repo_type="dataset")


def test_without_write_access_a_pull_request_is_the_way():
    with pytest.raises(HfHubHTTPError) as error:
        BOB.create_commit(REPO, repo_type="dataset", operations=[CommitOperationAdd("bob.txt", b"b")], commit_message="direct")
    assert status_of(error.value) == 403
    info = BOB.create_commit(
        REPO,
        repo_type="dataset",
        operations=[CommitOperationAdd("ratings/bob.jsonl", b'{"rating": 1}\n'), CommitOperationAdd("ratings/bob.parquet", parquet_bytes(3))],
        commit_message="Bob's ratings",
        commit_description="Ratings from bob",
        create_pr=True,
    )
    assert info.pr_url and info.pr_num
    pulls = list(ALICE.get_repo_discussions(REPO, repo_type="dataset", discussion_type="pull_request"))
    assert [(p.num, p.author, p.is_pull_request, p.status) for p in pulls] == [(info.pr_num, "bob", True, "open")]
    details = ALICE.get_discussion_details(REPO, info.pr_num, repo_type="dataset")
    assert details.git_reference == f"refs/pr/{info.pr_num}"
    assert details.target_branch == "refs/heads/main" and details.conflicting_files == []
    assert [event.type for event in details.events] == ["comment", "commit"]
    pr_files = ALICE.list_repo_files(REPO, repo_type="dataset", revision=details.git_reference)
    assert "ratings/bob.jsonl" in pr_files and "ratings/bob.parquet" in pr_files
    assert "ratings/bob.jsonl" not in ALICE.list_repo_files(REPO, repo_type="dataset")
    # Bob may add to his own pull request.
    BOB.create_commit(REPO, repo_type="dataset", operations=[CommitOperationAdd("ratings/more.jsonl", b"{}\n")], commit_message="more", revision=details.git_reference)
    downloaded = hf_hub_download(REPO, "ratings/more.jsonl", repo_type="dataset", revision=details.git_reference, endpoint=ENDPOINT)
    assert open(downloaded, "rb").read() == b"{}\n"
    with pytest.raises(HfHubHTTPError):
        BOB.merge_pull_request(REPO, info.pr_num, repo_type="dataset")
    ALICE.merge_pull_request(REPO, info.pr_num, repo_type="dataset")
    assert ALICE.get_discussion_details(REPO, info.pr_num, repo_type="dataset").status == "merged"
    assert {"ratings/bob.jsonl", "ratings/more.jsonl"} <= set(ALICE.list_repo_files(REPO, repo_type="dataset"))


def test_an_empty_pull_request_from_create_pull_request():
    pr = BOB.create_pull_request(REPO, title="Bob's next batch", repo_type="dataset")
    assert pr.is_pull_request and pr.status == "draft" and pr.git_reference == f"refs/pr/{pr.num}"
    BOB.create_commit(REPO, repo_type="dataset", operations=[CommitOperationAdd("next.txt", b"n")], commit_message="next", revision=pr.git_reference)
    assert "next.txt" in ALICE.list_repo_files(REPO, repo_type="dataset", revision=pr.git_reference)


def test_missing_repos_revisions_and_files_raise_the_right_errors():
    with pytest.raises(RepositoryNotFoundError):
        ALICE.dataset_info("alice/does-not-exist")
    with pytest.raises(RevisionNotFoundError):
        ALICE.list_repo_files(REPO, repo_type="dataset", revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "no/such/file.txt", repo_type="dataset", endpoint=ENDPOINT)


def test_private_repos_are_invisible_to_others():
    ALICE.create_repo("alice/py-private", repo_type="dataset", private=True)
    assert ALICE.dataset_info("alice/py-private").private is True
    with pytest.raises(RepositoryNotFoundError):
        BOB.dataset_info("alice/py-private")


def test_gated_files_need_access():
    with pytest.raises(GatedRepoError):
        hf_hub_download("prefab-test/gated", "data/train-00000-of-00001.parquet", repo_type="dataset", endpoint=ENDPOINT)
    assert ALICE.dataset_info("prefab-test/gated").gated == "manual"
    post_json("/_local/grant", {"repo": "prefab-test/gated", "user": "alice"})
    path = hf_hub_download("prefab-test/gated", "data/train-00000-of-00001.parquet", repo_type="dataset", endpoint=ENDPOINT)
    assert pq.read_table(path).num_rows == 20


def test_load_dataset_reads_rows_and_features_back():
    from datasets import Value, load_dataset

    repo = "alice/py-prompts"
    ALICE.create_repo(repo, repo_type="dataset")
    readme = "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n# Prompts\n"
    ALICE.create_commit(
        repo,
        repo_type="dataset",
        operations=[CommitOperationAdd("README.md", readme.encode()), CommitOperationAdd("data/train-00000-of-00001.parquet", parquet_bytes(30))],
        commit_message="Prompts",
    )
    dataset = load_dataset(repo, split="train")
    assert dataset.num_rows == 30
    assert dataset.features["prompt"] == Value("string") and dataset.features["id"] == Value("int64")
    assert dataset[29] == {"prompt": "prompt 29", "id": 29}
    fixture = load_dataset("prefab-test/prompts-1k", split="train")
    assert fixture.num_rows == 1000
    assert fixture[7]["prompt"].startswith("Prompt number 7:")


def test_datasets_server_splits_rows_and_parquet():
    status, _, splits = get_json("/datasets-server/splits?dataset=prefab-test/prompts-1k")
    assert status == 200 and splits["splits"] == [{"dataset": "prefab-test/prompts-1k", "config": "default", "split": "train"}]
    seen = []
    for offset in range(0, 1000, 100):
        status, _, page = get_json(f"/datasets-server/rows?dataset=prefab-test/prompts-1k&config=default&split=train&offset={offset}&length=100")
        assert status == 200 and page["num_rows_total"] == 1000 and page["partial"] is False
        seen += [row["row"]["prompt"] for row in page["rows"]]
    assert len(seen) == 1000 and seen[999].startswith("Prompt number 999:")
    assert page["features"][0] == {"feature_idx": 0, "name": "prompt", "type": {"dtype": "string", "_type": "Value"}}
    status, code, _ = get_json("/datasets-server/rows?dataset=prefab-test/prompts-1k&config=default&split=train&offset=0&length=101")
    assert (status, code) == (422, "InvalidParameter")
    status, _, parquet = get_json("/datasets-server/parquet?dataset=prefab-test/prompts-1k")
    [entry] = parquet["parquet_files"]
    with urllib.request.urlopen(entry["url"]) as response:
        assert pq.read_table(io.BytesIO(response.read())).num_rows == 1000
    status, _, valid = get_json("/datasets-server/is-valid?dataset=prefab-test/prompts-1k")
    assert valid["viewer"] is True


def test_datasets_server_errors_are_the_real_ones():
    assert get_json("/datasets-server/splits?dataset=prefab-test/gated")[:2] == (401, "ExternalUnauthenticatedError")
    assert get_json("/datasets-server/splits?dataset=prefab-test/gated", os.environ["PREFAB_HUB_TOKEN_BOB"])[:2] == (404, "ExternalAuthenticatedError")
    status, _, rows = get_json("/datasets-server/rows?dataset=prefab-test/gated&config=default&split=train", ORGANIZER_TOKEN)
    assert status == 200 and rows["num_rows_total"] == 20
    assert get_json("/datasets-server/splits?dataset=prefab-test/no-viewer")[:2] == (404, "DisabledViewerError")
    assert get_json("/datasets-server/splits?dataset=nobody/nothing")[:2] == (401, "ExternalUnauthenticatedError")
    assert get_json("/datasets-server/rows?dataset=prefab-test/prompts-1k&config=default&split=nope")[:2] == (404, "ResponseNotFound")


def test_injected_faults_reach_the_client():
    post_json("/_local/faults", [{"method": "GET", "path_contains": "/api/whoami-v2", "status": 429, "retry_after": "1", "times": 1}])
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(endpoint=ENDPOINT, token=os.environ["HF_TOKEN"]).whoami(cache=False)
    assert status_of(error.value) == 429 and error.value.response.headers["Retry-After"] == "1"
    assert ALICE.whoami(cache=False)["name"] == "alice"
    # The server gone during an LFS upload (its proxy answers 503): huggingface_hub retries the PUT, and the upload lands.
    post_json("/_local/faults", [{"path_contains": "/lfs-upload/", "action": "drop", "times": 1}])
    assert len(get_json("/_local/faults")[2]) == 1
    content = random.Random(2).randbytes(1000)
    ALICE.upload_file(path_or_fileobj=content, path_in_repo="retried.bin", repo_id=REPO, repo_type="dataset")
    assert get_json("/_local/faults")[2] == []
    downloaded = hf_hub_download(REPO, "retried.bin", repo_type="dataset", endpoint=ENDPOINT)
    assert open(downloaded, "rb").read() == content
    # A server error on the commit itself fails the upload, and nothing is committed.
    post_json("/_local/faults", [{"method": "POST", "path_contains": "/commit/", "status": 500, "times": 1}])
    with pytest.raises(HfHubHTTPError) as error:
        ALICE.upload_file(path_or_fileobj=b"x", path_in_repo="failed.txt", repo_id=REPO, repo_type="dataset")
    assert status_of(error.value) == 500
    assert "failed.txt" not in ALICE.list_repo_files(REPO, repo_type="dataset")
