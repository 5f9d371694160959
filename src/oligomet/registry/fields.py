"""The registry's data model: tables, fields, types and allowed codes, declared once.

This module is the contract between the importers and validator (``registry/``),
the store (``registry/store``), the endpoint derivation (``endpoints/``) and the
synthetic registry generator (``datasets/synthetic``). The interchange format is
one CSV per table (``<table>.csv``) in a folder, or one Excel workbook with one
sheet per table; column names are the field names below.

Types: ``str``, ``int``, ``float``, ``date`` (ISO ``YYYY-MM-DD``; see
``registry`` docs for other accepted formats), ``bool`` (0/1, true/false, yes/no),
``code`` (one of ``codes``), ``list`` (``;``-separated ids).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    codes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    description: str = ""
    references: dict[str, str] = field(default_factory=dict)  # field -> "table.field"

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


SEX = ("female", "male", "other", "unknown")
PRIMARY_SITE = ("colorectal", "sarcoma", "breast", "kidney", "melanoma", "lung", "other")
ORGAN = ("liver", "lung", "peritoneum", "bone", "brain", "lymph_node", "adrenal", "other")
LOCAL_MODALITIES = ("resection", "sabr", "rfa", "mwa", "cryoablation", "tace", "sirt")
MODALITY = LOCAL_MODALITIES + ("systemic", "other")
ABLATION_MODALITIES = ("rfa", "mwa", "cryoablation")
INTENT = ("curative", "palliative", "salvage", "unknown")
APPROACH = ("open", "minimally_invasive", "percutaneous", "not_applicable")
MARGIN = ("R0", "R1", "R2", "Rx")
SETTING = ("neoadjuvant", "adjuvant", "palliative", "perioperative", "conversion")
CLAVIEN_DINDO = ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")
EVENT_TYPE = ("local_recurrence", "distant_progression", "new_metastasis", "regional_recurrence",
              "progression")
MUTATION = ("wild_type", "mutant", "unknown")
PRIMARY_SIDEDNESS = ("right", "left", "rectum", "not_applicable", "unknown")
CONFIRMATION = ("imaging", "biopsy", "clinical", "unknown")
MSI = ("mss", "msi_high", "unknown")
MDT_RECOMMENDATION = ("resection", "sabr", "ablation", "systemic", "observation", "best_supportive_care",
                      "other")
#: A judgement the board records: yes, no, or explicitly not known. A blank cell is unknown too; neither
#: is ever read as "no" (a yes/no field would make a forgotten answer look like a decision).
JUDGEMENT = ("yes", "no", "unknown")
#: The board's judgements recorded with an MDT decision, per organ (liver, lung) and for the disease
#: extent: field name -> what the question is. ``board/case.py`` reads them as the case's facts.
BOARD_JUDGEMENTS = {
    "liver_resectable": "liver metastases technically resectable (surgeon)",
    "liver_ablatable": "liver metastases ablatable (interventional radiologist)",
    "liver_curable": "liver metastases curable by local treatment (MDT)",
    "liver_bilobar": "liver metastases in both lobes",
    "lung_resectable": "lung metastases technically resectable (thoracic surgeon)",
    "lung_ablatable": "lung metastases treatable by SABR or ablation (radiation oncologist / radiologist)",
    "lung_curable": "lung metastases curable by local treatment (MDT)",
    "lung_bilateral": "lung metastases in both lungs",
    "extrahepatic_disease": "disease outside the liver (primary excluded)",
    "extrapulmonary_disease": "disease outside the lungs (primary excluded)",
}
#: Plausible ranges of the board's measurements (inclusive; ``registry/rules/clinical.py``).
FEV1_PCT_RANGE = (0.0, 150.0)
CHARLSON_RANGE = (0, 37)
ASA_RANGE = (1, 6)
#: Extent of a resection, performed or assessed on imaging. Lung: wedge < segmentectomy < lobectomy <
#: pneumonectomy; liver: wedge (non-anatomical) < segmentectomy < hemihepatectomy. One code list for
#: both organs; ``LUNG_EXTENTS`` / ``LIVER_EXTENTS`` say which codes fit which organ, and
#: ``EXTENT_STEP`` is the step on the organ's own scale (``endpoints`` compares extents with it).
RESECTION_EXTENT = ("wedge", "segmentectomy", "lobectomy", "pneumonectomy", "hemihepatectomy")
LUNG_EXTENTS = ("wedge", "segmentectomy", "lobectomy", "pneumonectomy")
LIVER_EXTENTS = ("wedge", "segmentectomy", "hemihepatectomy")
EXTENT_STEP = {"wedge": 1, "segmentectomy": 2, "lobectomy": 3, "hemihepatectomy": 3, "pneumonectomy": 4}
CTCAE_GRADES = (1, 2, 3, 4, 5)

#: Identifier-like columns that must never be stored (refused, or keyed-hashed when a key is given).
#: Column names are compared after normalisation (lower case; spaces, hyphens and dots -> "_"), so
#: "Patient Name" and "date-of-birth" are caught too.
DIRECT_IDENTIFIERS = ("name", "first_name", "last_name", "patient_name", "mrn", "medical_record_number",
                      "national_id", "ssn", "bsn", "nhs_number", "address", "phone", "email", "date_of_birth",
                      "birth_date", "full_name", "surname", "given_name", "dob", "e_mail", "email_address",
                      "telephone", "phone_number", "mobile", "street", "postcode", "postal_code", "zip_code",
                      "hospital_number", "social_security_number", "insurance_number", "passport_number")

F = Field

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("patients", ("patient_id",), (
        F("patient_id", "str", True),
        F("site", "str", True, description="treating hospital"),
        F("sex", "code", True, SEX),
        F("birth_year", "int"),
        F("primary_site", "code", True, PRIMARY_SITE),
        F("histology", "str"),
        F("primary_sidedness", "code", codes=PRIMARY_SIDEDNESS,
          description="colorectal primary: right colon (caecum to transverse), left colon, or rectum"),
        F("primary_diagnosis_date", "date", True),
        F("primary_resection_date", "date"),
        F("node_positive", "bool"),
        F("ras", "code", codes=MUTATION),
        F("braf", "code", codes=MUTATION),
        F("msi", "code", codes=MSI),
        F("ecog", "int", description="ECOG performance status 0-4 at metastasis diagnosis"),
        F("death_date", "date"),
        F("last_contact_date", "date", description="last date known alive (or date of death)"),
        F("pseudonym", "str", description="keyed HMAC-SHA256 (hex) of the direct identifiers supplied at import; "
                                          "written only by the importer when the user gives a key"),
    ), "one row per patient; dates of death and last contact drive every time-to-event endpoint"),
    Table("lesions", ("lesion_id",), (
        F("lesion_id", "str", True),
        F("patient_id", "str", True),
        F("organ", "code", True, ORGAN),
        F("detection_date", "date", True),
        F("diameter_mm", "float"),
        F("segment_or_lobe", "str"),
    ), "one row per metastatic lesion", {"patient_id": "patients.patient_id"}),
    Table("treatments", ("treatment_id",), (
        F("treatment_id", "str", True),
        F("patient_id", "str", True),
        F("lesion_ids", "list", description="';'-separated lesion ids treated (local treatments)"),
        F("modality", "code", True, MODALITY),
        F("start_date", "date", True),
        F("end_date", "date"),
        F("intent", "code", codes=INTENT),
        F("approach", "code", codes=APPROACH),
        F("margin", "code", codes=MARGIN),
        F("dose_gy", "float", description="SABR total dose"),
        F("fractions", "int", description="SABR fractions"),
        F("regimen", "str", description="systemic regimen"),
        F("line", "int", description="systemic line"),
        F("setting", "code", codes=SETTING),
        F("ablation_margin_mm", "float", description="minimal ablation margin in mm (thermal ablation)"),
        F("assessed_extent", "code", codes=RESECTION_EXTENT,
          description="local treatments: the resection the surgeon judged would be needed, on the imaging before "
                      "this treatment (lung: wedge/segmentectomy/lobectomy/pneumonectomy; liver: "
                      "wedge/segmentectomy/hemihepatectomy)"),
        F("resection_extent", "code", codes=RESECTION_EXTENT,
          description="resections: the extent actually performed (same codes as assessed_extent)"),
        F("extensive_adhesions", "code", codes=JUDGEMENT,
          description="intra-operative finding (resections, open or laparoscopic ablation): extensive adhesions"),
    ), "local and systemic treatments", {"patient_id": "patients.patient_id"}),
    Table("complications", ("treatment_id", "date", "clavien_dindo"), (
        F("treatment_id", "str", True),
        F("date", "date", True),
        F("clavien_dindo", "code", True, CLAVIEN_DINDO),
        F("description", "str"),
    ), "complications after a treatment", {"treatment_id": "treatments.treatment_id"}),
    Table("events", ("patient_id", "date", "type", "lesion_id"), (
        F("patient_id", "str", True),
        F("lesion_id", "str"),
        F("date", "date", True),
        F("type", "code", True, EVENT_TYPE),
        F("organ", "code", codes=ORGAN),
        F("confirmed_by", "code", codes=CONFIRMATION, description="how the event was established"),
        F("ct_progression", "bool", description="established by growth on CT (empty: not assessed)"),
        F("fdg_pet_uptake", "bool", description="FDG-PET showed uptake (false: PET without uptake; empty: no PET)"),
        F("tumor_board_before_salvage", "bool",
          description="the recurrence was discussed at the tumor board before its (salvage) treatment"),
    ), "recurrences and progressions", {"patient_id": "patients.patient_id", "lesion_id": "lesions.lesion_id"}),
    Table("labs", ("patient_id", "date"), (
        F("patient_id", "str", True),
        F("date", "date", True),
        F("cea", "float", description="CEA in ng/mL"),
        F("ca19_9", "float", description="CA 19-9 in U/mL"),
    ), "laboratory values", {"patient_id": "patients.patient_id"}),
    Table("mdt_decisions", ("patient_id", "date"), (
        F("patient_id", "str", True),
        F("date", "date", True),
        F("recommendation", "code", True, MDT_RECOMMENDATION),
        *(F(name, "code", codes=JUDGEMENT, description=text) for name, text in BOARD_JUDGEMENTS.items()),
        F("charlson_index", "int", description="Charlson comorbidity index at the meeting, the cancer under "
                                                      "treatment not counted (0-37)"),
        F("asa_class", "int", description="ASA physical status class 1-6 at the meeting"),
        F("fev1_pct", "float", description="FEV1, % of predicted, latest test before the meeting (0-150)"),
    ), "multidisciplinary tumor board decisions, with the judgements and measurements they rest on "
       "(the board's view of the patient as of the meeting date)", {"patient_id": "patients.patient_id"}),
    Table("adverse_events", ("patient_id", "date", "term"), (
        F("patient_id", "str", True),
        F("date", "date", True, description="onset"),
        F("term", "str", True, description="CTCAE term, e.g. 'Neutrophil count decreased'"),
        F("grade", "int", True, description="CTCAE grade 1-5 (5 = death related to the adverse event)"),
        F("drug_related", "bool", description="attributed to systemic therapy (possibly, probably or definitely)"),
    ), "adverse events of systemic therapy graded by CTCAE (surgical and interventional complications are "
       "Clavien-Dindo graded, in complications)", {"patient_id": "patients.patient_id"}),
)}

TABLE_ORDER = tuple(TABLES)  # parents before children: the order to write and to validate references
