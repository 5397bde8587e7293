"""`radshield probe` builds its table from the inventory (groups, addresses, the PACS's ports
and AE titles), so it probes a user's own estate, with the lab as one inventory among others."""

from __future__ import annotations

from radshield import probe


def _estate(**pacs_vars):
    def hv(groups, **more):
        return {"group_names": groups, **more}

    hostvars = {
        "pacs-a": hv(["managed", "pacs_servers"], radshield_addresses={"img": "10.1.1.5", "clin": "10.1.2.5",
                     "adm": "10.1.3.5"}, pacs_orthanc_dicom_port=11112, pacs_orthanc_http_port=9443,
                     pacs_orthanc_aet="MAIN_PACS", pacs_orthanc_modalities=[
                         {"aet": "CT_SCANNER", "host": "10.1.1.40"}], **pacs_vars),
        "ct-1": hv(["managed", "modalities"], radshield_addresses={"img": "10.1.1.40", "adm": "10.1.3.40"}),
        "read-1": hv(["managed", "workstations"], radshield_addresses={"clin": "10.1.2.31", "adm": "10.1.3.31"}),
        "bastion": hv(["managed", "jump_hosts"], radshield_addresses={"adm": "10.1.3.4"}),
        "guest": hv(["untrusted"], radshield_addresses={"clin": "10.1.2.99"}),
    }  # fmt: skip
    return probe.estate_from(hostvars)


def test_the_lab_table_is_unchanged():
    ids = sorted(p.id for p in probe.probes())
    # two PACS (primary and standby): each PACS probe once per PACS, named after it; SSH
    # probes for each of the six managed hosts
    assert len(ids) == 27
    for pacs in ("pacs-01", "pacs-02"):
        assert f"dicom.unknown_aet.{pacs}" in ids and f"tcp.pacs_ssh.from_clinical.{pacs}" in ids
    assert "ssh_password.backup-01" in ids and "ssh_root_key.backup-01" in ids


def test_ports_and_ae_titles_come_from_the_inventory():
    table = {p.id: p for p in probe.probes(_estate())}
    unknown = table["dicom.unknown_aet"]
    assert (unknown.origin, unknown.target, unknown.port, unknown.segment) == (
        "ct-1",
        "pacs-a",
        11112,
        "img",
    )
    assert unknown.params == {
        "aet": "INTRUDER",
        "tls": True,
        "called": "MAIN_PACS",
        "cert": "CT_SCANNER",
    }
    assert table["dicom.plain"].params["aet"] == "CT_SCANNER"  # the declared AE title, without TLS
    assert table["tcp.pacs_dicom.from_img"].expected == ("open",)
    assert (
        table["tcp.pacs_dicom.from_clin"].port == 11112
        and table["tcp.pacs_dicom.from_clin"].origin == "guest"
    )
    assert (
        table["rest.no_credentials"].port == 9443
        and table["rest.no_credentials"].origin == "read-1"
    )
    # SSH is probed from the jump host on the segment it shares with each managed host
    ssh = table["ssh_password.ct-1"]
    assert (ssh.origin, ssh.segment) == ("bastion", "adm")
    assert {p.target for p in table.values() if p.kind == "ssh_root_key"} == {
        "pacs-a",
        "ct-1",
        "read-1",
        "bastion",
    }


def test_addresses_are_resolved_per_segment():
    e = _estate()
    assert e.addresses["pacs-a"]["img"] == "10.1.1.5"
    runner = probe.Runner(probe.Transport(), e.addresses)
    assert runner.address({p.id: p for p in probe.probes(e)}["dicom.plain"]) == "10.1.1.5"


def test_two_pacs_get_one_set_of_probes_each():
    e = _estate()
    e.groups["pacs_servers"].append("pacs-b")
    e.addresses["pacs-b"] = {"img": "10.1.1.6", "clin": "10.1.2.6"}
    ids = {p.id for p in probe.probes(e)}
    assert {
        "dicom.unknown_aet.pacs-a",
        "dicom.unknown_aet.pacs-b",
        "rest.no_credentials.pacs-b",
    } <= ids
