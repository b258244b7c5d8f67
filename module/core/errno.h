// SPDX-License-Identifier: GPL-2.0
// Linux errno values the core returns (negated), as in asm-generic/errno*.h.
// The core cannot include that header; these numbers are ABI and never move.
#ifndef EXO_CORE_ERRNO_H
#define EXO_CORE_ERRNO_H

namespace exo {
enum Errno : int {
  kEIO = 5,
  kENODEV = 19,
  kEFAULT = 14,
  kEAGAIN = 11,
  kENOMEM = 12,
  kEEXIST = 17,
  kEINVAL = 22,
  kENOSPC = 28,
  kERANGE = 34,
  kENAMETOOLONG = 36,
  kEBADMSG = 74,
  kEMSGSIZE = 90,
  kEOPNOTSUPP = 95,
  kEADDRNOTAVAIL = 99,
  kETIMEDOUT = 110,
};
}  // namespace exo

#endif  // EXO_CORE_ERRNO_H
