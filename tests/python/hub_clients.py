"""The local Hugging Face Hub (xtask/src/hub/) checked by the official Python clients.

Run by `cargo xtask test` and `cargo xtask hub-check` with pytest, from the venv of
hub_requirements.txt, with HF_ENDPOINT pointing at the local Hub, HF_TOKEN a token of
the user `alice`, PREFAB_HUB_TOKEN_BOB one of `bob` (no write access to alice's repos)
and PREFAB_HUB_TOKEN_ORGANIZER one of `organizer` (a member of the org `prefab-test`).
HF_HUB_DISABLE_XET=1 makes huggingface_hub upload large files with plain LFS.

Each test uses the clients as a person would, and checks what comes back.
"""

import base64
import hashlib
import io
import json
import os
import random
import urllib.error
import urllib.parse
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
ORGANIZER = HfApi(endpoint=ENDPOINT, token=ORGANIZER_TOKEN)
REPO = "alice/py-checks"
# A campaign in the org prefab-test, where organizer writes and alice and bob do not.
CAMPAIGN = "prefab-test/py-campaign"


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


def post_ndjson(path, lines, token):
    """POST NDJSON on the hub as Prefab's own client sends commits; (status, JSON body)."""
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    request = urllib.request.Request(ENDPOINT + path, data=body, method="POST")
    request.add_header("Content-Type", "application/x-ndjson")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


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


# Campaigns: a dataset repo whose main holds prefab-campaign.json; each contributor opens
# one pull request and pushes batches of ratings to it as contributions/{user}/{hash}.jsonl;
# the organizer lists the pull requests, reads the files at refs/pr/N and merges them.


def ratings(annotator, *labels):
    """A batch of ratings, one JSON a line, and the path Prefab gives it (by content hash)."""
    content = "".join(json.dumps({"annotator": annotator, "item": f"item-{i}", "label": label}) + "\n" for i, label in enumerate(labels)).encode()
    return f"contributions/{annotator}/{hashlib.sha256(content).hexdigest()[:16]}.jsonl", content


@pytest.fixture(scope="module")
def campaign():
    ORGANIZER.create_repo(CAMPAIGN, repo_type="dataset")
    manifest = {"title": "Which answer is better?", "mode": "dpo", "records": "campaign/records.jsonl"}
    records = "".join(json.dumps({"id": f"item-{i}", "prompt": f"prompt {i}", "completions": ["a", "b"]}) + "\n" for i in range(3))
    ORGANIZER.create_commit(
        CAMPAIGN,
        repo_type="dataset",
        operations=[CommitOperationAdd("prefab-campaign.json", json.dumps(manifest).encode()), CommitOperationAdd("campaign/records.jsonl", records.encode())],
        commit_message="Open the campaign",
    )
    return CAMPAIGN


def test_a_campaign_contributor_pushes_batches_to_one_pull_request_that_the_organizer_collects(campaign):
    pr = BOB.create_pull_request(campaign, title="Ratings from bob", description="Prefab contributions from bob", repo_type="dataset")
    assert pr.is_pull_request and pr.status == "draft" and pr.git_reference == f"refs/pr/{pr.num}"
    first_path, first = ratings("bob", "chosen-a", "chosen-b")
    second_path, second = ratings("bob", "tie")
    BOB.upload_file(path_or_fileobj=first, path_in_repo=first_path, repo_id=campaign, repo_type="dataset", revision=pr.git_reference, commit_message="2 ratings")
    head = BOB.upload_file(path_or_fileobj=second, path_in_repo=second_path, repo_id=campaign, repo_type="dataset", revision=pr.git_reference, commit_message="1 rating").oid
    assert BOB.repo_info(campaign, repo_type="dataset", revision=pr.git_reference).sha == head

    # The organizer finds bob's pull request (a draft counts as open), and no one else's.
    def pulls(author, status="open"):
        found = ORGANIZER.get_repo_discussions(campaign, author=author, discussion_type="pull_request", discussion_status=status, repo_type="dataset")
        return [(d.num, d.author, d.is_pull_request) for d in found]

    assert pulls("bob") == [(pr.num, "bob", True)]
    assert pulls("alice") == [] and pulls("bob", "closed") == []
    # … lists its contributions, and reads them.
    tree = ORGANIZER.list_repo_tree(campaign, repo_type="dataset", revision=pr.git_reference, path_in_repo="contributions", recursive=True)
    listed = {entry.path: entry for entry in tree}
    assert set(listed) == {"contributions/bob", first_path, second_path}
    assert listed[first_path].size == len(first) and listed[first_path].lfs is None
    for path, content in [(first_path, first), (second_path, second)]:
        downloaded = hf_hub_download(campaign, path, repo_type="dataset", revision=pr.git_reference, token=ORGANIZER_TOKEN, endpoint=ENDPOINT)
        assert open(downloaded, "rb").read() == content
        assert {json.loads(line)["annotator"] for line in content.splitlines()} == {"bob"}
    assert not any(path.startswith("contributions/") for path in ORGANIZER.list_repo_files(campaign, repo_type="dataset"))

    # The same file again: huggingface_hub sees it unchanged (preupload's oid) and makes no commit …
    again = BOB.upload_file(path_or_fileobj=first, path_in_repo=first_path, repo_id=campaign, repo_type="dataset", revision=pr.git_reference)
    assert again.oid == head
    # … and a client that sends it anyway gets a new, empty commit, as from the Hub: nothing else changes.
    encoded = base64.b64encode(first).decode()
    status, answer = post_ndjson(
        f"/api/datasets/{campaign}/commit/{urllib.parse.quote(pr.git_reference, safe='')}",
        [{"key": "header", "value": {"summary": "the same batch", "description": "", "parentCommit": head}}, {"key": "file", "value": {"path": first_path, "content": encoded, "encoding": "base64"}}],
        os.environ["PREFAB_HUB_TOKEN_BOB"],
    )
    assert status == 200 and answer["success"] is True and len(answer["commitOid"]) == 40 and answer["commitOid"] != head
    def oids(revision):
        tree = ORGANIZER.list_repo_tree(campaign, repo_type="dataset", revision=revision, recursive=True)
        return {entry.path: getattr(entry, "blob_id", None) or entry.tree_id for entry in tree}

    assert oids(answer["commitOid"]) == oids(head) and BOB.repo_info(campaign, repo_type="dataset", revision=pr.git_reference).sha == answer["commitOid"]

    # The organizer merges it (opening the draft first, as huggingface_hub's own tests do), and the files are on main.
    ORGANIZER.change_discussion_status(campaign, pr.num, new_status="open", repo_type="dataset")
    ORGANIZER.merge_pull_request(campaign, pr.num, repo_type="dataset")
    assert ORGANIZER.get_discussion_details(campaign, pr.num, repo_type="dataset").status == "merged"
    assert {first_path, second_path, "prefab-campaign.json", "campaign/records.jsonl"} <= set(ORGANIZER.list_repo_files(campaign, repo_type="dataset"))
    downloaded = hf_hub_download(campaign, second_path, repo_type="dataset", token=ORGANIZER_TOKEN, endpoint=ENDPOINT)
    assert open(downloaded, "rb").read() == second
    assert pulls("bob") == [] and pulls("bob", "closed") == [(pr.num, "bob", True)]


def test_a_campaign_contributor_may_touch_only_their_own_folder(campaign):
    pr = ALICE.create_pull_request(campaign, title="Ratings from alice", repo_type="dataset")
    path, content = ratings("alice", "chosen-a")
    ALICE.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id=campaign, repo_type="dataset", revision=pr.git_reference)

    def refused(**upload):
        with pytest.raises(HfHubHTTPError) as error:
            ALICE.upload_file(repo_id=campaign, repo_type="dataset", **upload)
        assert status_of(error.value) == 403
        return error.value.server_message or str(error.value)

    forged = refused(path_or_fileobj=b'{"annotator": "someone-else"}\n', path_in_repo="contributions/someone-else/x.jsonl", revision=pr.git_reference)
    assert "contributions/someone-else/x.jsonl" in forged and "only add or update .jsonl files" in forged and "contributions/alice/" in forged
    assert "not a .jsonl file" in refused(path_or_fileobj=b"x", path_in_repo="contributions/alice/x.txt", revision=pr.git_reference)
    assert "outside contributions/alice/" in refused(path_or_fileobj=b"{}", path_in_repo="prefab-campaign.json", revision=pr.git_reference)
    assert "outside contributions/alice/" in refused(path_or_fileobj=b"# Mine\n", path_in_repo="README.md", create_pr=True)
    with pytest.raises(HfHubHTTPError) as error:
        ALICE.delete_file(path, repo_id=campaign, repo_type="dataset", revision=pr.git_reference)
    assert status_of(error.value) == 403 and "may not delete" in (error.value.server_message or str(error.value))
    # Pushing to someone else's pull request is refused anyway.
    with pytest.raises(HfHubHTTPError) as error:
        BOB.upload_file(path_or_fileobj=content, path_in_repo="contributions/bob/x.jsonl", repo_id=campaign, repo_type="dataset", revision=pr.git_reference)
    assert status_of(error.value) == 403
    # Nothing refused landed: the pull request adds alice's one file to main.
    pr_files = set(ORGANIZER.list_repo_files(campaign, repo_type="dataset", revision=pr.git_reference))
    main_files = set(ORGANIZER.list_repo_files(campaign, repo_type="dataset"))
    assert pr_files - main_files == {path} and main_files <= pr_files
    # A writer of the repo is not restricted.
    info = ORGANIZER.upload_file(path_or_fileobj=b"# Notes\n", path_in_repo="notes/organizer.md", repo_id=campaign, repo_type="dataset", create_pr=True)
    assert info.pr_num


def test_a_fault_for_one_user_leaves_the_others_alone():
    post_json("/_local/faults", [{"method": "GET", "path_contains": "/api/whoami-v2", "user": "bob", "status": 429, "retry_after": "1", "times": 2}])
    assert ALICE.whoami(cache=False)["name"] == "alice"
    assert [(rule["user"], rule["times"]) for rule in get_json("/_local/faults")[2]] == [("bob", 2)]
    for _ in range(2):
        with pytest.raises(HfHubHTTPError) as error:
            BOB.whoami(cache=False)
        assert status_of(error.value) == 429
    assert get_json("/_local/faults")[2] == []
    assert BOB.whoami(cache=False)["name"] == "bob"


def test_discussions_are_listed_in_pages_of_fifty():
    repo = "alice/py-paging"
    ALICE.create_repo(repo, repo_type="dataset")
    for i in range(53):
        ALICE.create_discussion(repo, title=f"Discussion {i + 1}", repo_type="dataset")
    ALICE.change_discussion_status(repo, 2, new_status="closed", repo_type="dataset")
    assert [d.num for d in ALICE.get_repo_discussions(repo, repo_type="dataset")] == list(range(53, 0, -1))
    assert [d.num for d in ALICE.get_repo_discussions(repo, repo_type="dataset", discussion_status="closed")] == [2]
    assert len(list(ALICE.get_repo_discussions(repo, repo_type="dataset", discussion_status="open"))) == 52
    status, _, page = get_json(f"/api/datasets/{repo}/discussions?p=1")
    assert status == 200
    assert (page["count"], page["start"], page["numClosedDiscussions"]) == (53, 50, 1)
    assert [d["num"] for d in page["discussions"]] == [3, 2, 1]


def test_a_tree_of_2500_files_comes_whole_through_the_pages():
    repo = "alice/py-tree-pages"
    ALICE.create_repo(repo, repo_type="dataset")
    paths = [f"shard-{i % 3}/f-{i:04}.txt" for i in range(2500)]
    ALICE.create_commit(
        repo,
        repo_type="dataset",
        operations=[CommitOperationAdd(path, f"{i}\n".encode()) for i, path in enumerate(paths)],
        commit_message="2,500 small files",
    )
    listed = [entry.path for entry in ALICE.list_repo_tree(repo, repo_type="dataset", recursive=True)]
    files = [path for path in listed if path.startswith("shard-") and "/" in path]
    assert sorted(files) == sorted(paths) and len(files) == len(set(files)) == 2500
    assert sorted(set(listed) - set(files)) == [".gitattributes", "shard-0", "shard-1", "shard-2"] and len(listed) == 2504
    # With expand, 50 a page: one folder's 834 files in 17 pages, each with its last commit.
    expanded = list(ALICE.list_repo_tree(repo, "shard-1", repo_type="dataset", expand=True))
    assert sorted(entry.path for entry in expanded) == sorted(p for p in paths if p.startswith("shard-1/"))
    assert all(entry.last_commit is not None for entry in expanded)
    # The pages themselves: 1,000 entries, the next one's absolute address in Link, which
    # a cross-origin page may read.
    request = urllib.request.Request(f"{ENDPOINT}/api/datasets/{repo}/tree/main?recursive=true")
    request.add_header("Origin", "http://127.0.0.1:8080")
    with urllib.request.urlopen(request) as response:
        assert len(json.load(response)) == 1000
        link = response.headers["Link"]
        assert "Link" in [name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")]
    assert link.startswith(f"<{ENDPOINT}/api/datasets/{repo}/tree/main?recursive=true&cursor=") and link.endswith('>; rel="next"'), link
    assert get_json(f"/api/datasets/{repo}/tree/main?recursive=true&cursor=not-ours")[0] == 400
