/**
 * How a label class is described in DICOM (a SEG segment's category and type, an RTSTRUCT
 * ROI's description): a short list of SNOMED CT codes a user picks from per label, "auto"
 * (from the label's name), or a local code that keeps the label's name. Runtime: pure
 * (the renderer shows the choice, the services write it).
 */

export interface Code {
  scheme: string;
  value: string;
  meaning: string;
}

/** SNOMED CT "Morphologically abnormal structure": the category of findings. */
const ABNORMAL: Code = { scheme: 'SCT', value: '49755003', meaning: 'Morphologically abnormal structure' };
/** SNOMED CT "Anatomical structure": the category of organs (DICOM CID 7150). */
const ANATOMY: Code = { scheme: 'SCT', value: '123037004', meaning: 'Anatomical Structure' };

export interface SegmentCode {
  key: string;
  group: 'Finding' | 'Anatomy';
  category: Code;
  type: Code;
  /** Label names (lower case) that pick this code when the label is on "auto". */
  names: RegExp;
}

const finding = (key: string, value: string, meaning: string, names: RegExp): SegmentCode => ({ key, group: 'Finding', category: ABNORMAL, type: { scheme: 'SCT', value, meaning }, names });
const organ = (key: string, value: string, meaning: string, names: RegExp): SegmentCode => ({ key, group: 'Anatomy', category: ANATOMY, type: { scheme: 'SCT', value, meaning }, names });

/** The short list (SNOMED CT codes as DICOM's CID 7151/7159 use them). */
export const SEGMENT_CODES: readonly SegmentCode[] = [
  finding('lesion', '52988006', 'Lesion', /^(lesion|lesions|finding)$/),
  finding('neoplasm', '108369006', 'Neoplasm', /^(tumou?r|tumou?rs|neoplasm|mass)$/),
  finding('nodule', '27925004', 'Nodule', /^(nodule|nodules)$/),
  finding('cyst', '441457006', 'Cyst', /^(cyst|cysts)$/),
  finding('metastasis', '14799000', 'Neoplasm, metastatic', /^(metastasis|metastases|met|mets)$/),
  organ('liver', '10200004', 'Liver', /^liver$/),
  organ('kidney', '64033007', 'Kidney', /^kidneys?$/),
  organ('lung', '39607008', 'Lung', /^lungs?$/),
  organ('spleen', '78961009', 'Spleen', /^spleen$/),
  organ('pancreas', '15776009', 'Pancreas', /^pancreas$/),
  organ('brain', '12738006', 'Brain', /^brain$/),
  organ('heart', '80891009', 'Heart', /^heart$/),
  organ('prostate', '41216001', 'Prostate', /^prostate$/),
  organ('bladder', '89837001', 'Urinary bladder', /^(urinary )?bladder$/),
];

/** What a label's `code` may hold: null (auto, from its name), a key of the list, or "local". */
export const SEGMENT_CODE_KEYS: [string, ...string[]] = ['local', ...SEGMENT_CODES.map((c) => c.key)];

/**
 * The category and type that describe a label. `choice` null: the list entry its name picks,
 * else a local code; "local": always the local code ("99DLN", a private scheme as DICOM
 * allows, keeping the label's name as meaning).
 */
export function codesForLabel(name: string, choice: string | null = null): { category: Code; type: Code; local: boolean; key: string | null } {
  const lower = name.trim().toLowerCase();
  const picked = choice === 'local' ? undefined : choice ? SEGMENT_CODES.find((c) => c.key === choice) : SEGMENT_CODES.find((c) => c.names.test(lower));
  if (picked) return { category: picked.category, type: picked.type, local: false, key: picked.key };
  const value = lower.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 16) || 'label';
  return { category: ABNORMAL, type: { scheme: '99DLN', value, meaning: name.trim().slice(0, 64) || 'label' }, local: true, key: null };
}
