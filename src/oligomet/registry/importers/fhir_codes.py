"""The codes the mCODE importer understands: which registry value a FHIR coding means.

Kept apart from the reader so that the tables can be read (and extended) as data. Codes are the
ones the mCODE profiles bind: LOINC for observations, SNOMED CT and ICD-10(-CM) for conditions and
body sites, the mCODE procedure-intent values. A coding the tables do not know is an error naming
the entry and the code, never a guess; ICD-10 chapters are matched on their prefix (C78.7 and
C78.71 are both the liver).
"""
from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"

#: mCODE profiles (``meta.profile`` ends with these names).
PRIMARY_PROFILE = "mcode-primary-cancer-condition"
SECONDARY_PROFILE = "mcode-secondary-cancer-condition"
SURGERY_PROFILE = "mcode-cancer-related-surgical-procedure"
RADIOTHERAPY_PROFILES = ("mcode-radiotherapy-course-summary", "mcode-cancer-related-radiation-procedure")

#: Observation.code (LOINC) -> what it is.
ECOG = "89247-1"            # ECOG performance status score
KARNOFSKY = "89243-0"       # not read (the registry holds ECOG), reported as such
CEA = "2039-6"              # Carcinoembryonic Ag [Mass/volume] in Serum or Plasma
CA19_9 = "24108-3"          # Cancer Ag 19-9 [Units/volume] in Serum or Plasma
TUMOR_SIZE = "21889-1"      # Size Tumor
LONGEST_DIMENSION = "33728-7"   # Size.maximum dimension in Tumor (component of the tumor size)
#: ECOG answers (LOINC answer list LL529-9) when the score comes as a coded value.
ECOG_ANSWERS = {"LA9622-7": 0, "LA9623-5": 1, "LA9624-3": 2, "LA9625-0": 3, "LA9626-8": 4, "LA9627-6": 5}

#: Procedure code of an mCODE radiotherapy course summary (SNOMED "Radiotherapy course of treatment").
RADIOTHERAPY_COURSE = "1217123003"

#: Units a value may come in -> factor to the registry's unit.
CEA_UNITS = {"ng/ml": 1.0, "ug/l": 1.0, "µg/l": 1.0, "μg/l": 1.0}
CA19_9_UNITS = {"u/ml": 1.0, "ku/l": 1.0, "[iu]/ml": 1.0, "iu/ml": 1.0}
SIZE_UNITS = {"mm": 1.0, "cm": 10.0}
DOSE_UNITS = {"cgy": 0.01, "gy": 1.0}

# --- primary cancer: ICD-10 chapter prefixes and SNOMED disorders -> patients.primary_site
ICD10_PRIMARY = {"C18": "colorectal", "C19": "colorectal", "C20": "colorectal", "C34": "lung", "C50": "breast",
                 "C64": "kidney", "C43": "melanoma", "C49": "sarcoma", "C40": "sarcoma", "C41": "sarcoma",
                 "C48": "sarcoma"}
SNOMED_PRIMARY = {"363406005": "colorectal",   # malignant neoplasm of colon
                  "363351006": "colorectal",   # malignant neoplasm of rectum
                  "363358000": "lung",         # malignant neoplasm of lung
                  "254837009": "breast",       # malignant neoplasm of breast
                  "363518003": "kidney",       # malignant neoplasm of kidney
                  "372244006": "melanoma"}     # malignant melanoma
#: ICD-10 colon subsites -> patients.primary_sidedness (C18.8/C18.9/C19 do not settle a side).
ICD10_SIDE = {"C18.0": "right", "C18.2": "right", "C18.3": "right", "C18.4": "right", "C18.5": "left",
              "C18.6": "left", "C18.7": "left", "C20": "rectum"}

# --- secondary cancer: body site (SNOMED), else the condition code -> lesions.organ
SNOMED_SITE = {"10200004": "liver", "39607008": "lung", "15425007": "peritoneum", "272673000": "bone",
               "12738006": "brain", "59441001": "lymph_node", "23451007": "adrenal"}
ICD10_SECONDARY = {"C78.0": "lung", "C78.6": "peritoneum", "C78.7": "liver", "C79.3": "brain", "C79.5": "bone",
                   "C79.7": "adrenal", "C77": "lymph_node"}
SNOMED_SECONDARY = {"94381002": "liver",     # secondary malignant neoplasm of liver
                    "94391008": "lung"}      # secondary malignant neoplasm of lung

# --- procedures -> treatments.modality
#: Surgical removal (SNOMED): resection.
SNOMED_RESECTION = {"128303001",   # surgical removal
                    "370612006",   # excision of neoplasm
                    "119746007"}   # lung excision
SNOMED_ABLATION = {"879916008": "rfa"}   # radiofrequency ablation
#: Words of a code's display or text, for sites that code procedures locally (checked after the codes).
ABLATION_WORDS = {"radiofrequency": "rfa", "rfa": "rfa", "microwave": "mwa", "mwa": "mwa", "cryo": "cryoablation"}
RESECTION_WORDS = ("resection", "ectomy", "excision", "metastasectomy", "surgical removal")
STEREOTACTIC_WORDS = ("stereotactic", "sbrt", "sabr")

# --- mCODE procedure intent (SNOMED) -> treatments.intent
INTENT = {"373808002": "curative", "363676003": "palliative"}

#: Patient elements that identify a person. Never stored: refused, or keyed-hashed into the
#: pseudonym (the first four, under the name of the registry's identifier columns).
PATIENT_IDENTIFIERS = {"name": "name", "identifier": "mrn", "telecom": "phone", "address": "address",
                       "contact": None, "photo": None}
