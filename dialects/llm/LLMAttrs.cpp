//===- LLMAttrs.cpp - llm dialect attributes ------------------------------===//

#include "dialects/llm/LLMAttrs.h"
#include "dialects/llm/LLMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

using namespace mlir;
using namespace mlir::llm;

#include "dialects/llm/LLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/llm/LLMAttrs.cpp.inc"

void LLMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/llm/LLMAttrs.cpp.inc"
      >();
}

std::string mlir::llm::formatNumber(double value) {
  std::string out;
  llvm::raw_string_ostream(out) << llvm::format("%g", value);
  return out;
}

//===----------------------------------------------------------------------===//
// QuantAttr
//===----------------------------------------------------------------------===//

bool QuantAttr::isBlockScheme() const {
  switch (getScheme()) {
  case QuantScheme::gguf_q8_0:
  case QuantScheme::gguf_q4_0:
  case QuantScheme::gguf_q4_1:
  case QuantScheme::gqsa_q4_0_s50:
  case QuantScheme::dgq_a8w4:
  case QuantScheme::gguf_q5_0:
  case QuantScheme::gguf_q5_1:
  case QuantScheme::gguf_iq4_nl:
  case QuantScheme::gguf_q2_k:
  case QuantScheme::gguf_q3_k:
  case QuantScheme::gguf_q4_k:
  case QuantScheme::gguf_q5_k:
  case QuantScheme::gguf_q6_k:
    return true;
  case QuantScheme::symmetric:
  case QuantScheme::asymmetric:
    return false;
  }
  llvm_unreachable("unknown quant scheme");
}

/// Bits and block size of the ggml formats the packer can decode
/// (ggml-common.h block structs); nullopt for the others.
static std::optional<std::pair<int64_t, int64_t>>
packTimeFormat(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::gguf_q5_0:
  case QuantScheme::gguf_q5_1: return std::pair<int64_t, int64_t>{5, 32};
  case QuantScheme::gguf_iq4_nl: return std::pair<int64_t, int64_t>{4, 32};
  case QuantScheme::gguf_q2_k: return std::pair<int64_t, int64_t>{2, 256};
  case QuantScheme::gguf_q3_k: return std::pair<int64_t, int64_t>{3, 256};
  case QuantScheme::gguf_q4_k: return std::pair<int64_t, int64_t>{4, 256};
  case QuantScheme::gguf_q5_k: return std::pair<int64_t, int64_t>{5, 256};
  case QuantScheme::gguf_q6_k: return std::pair<int64_t, int64_t>{6, 256};
  default: return std::nullopt;
  }
}

bool QuantAttr::isPackTimeDecodable() const {
  return packTimeFormat(getScheme()).has_value();
}

bool QuantAttr::hasInputScales() const {
  return getScheme() == QuantScheme::dgq_a8w4;
}

bool QuantAttr::hasZeroPoints() const {
  return getScheme() == QuantScheme::asymmetric;
}

std::optional<SmallVector<int64_t>>
QuantAttr::getScalesShape(ArrayRef<int64_t> weightShape) const {
  if (isBlockScheme() || weightShape.empty())
    return std::nullopt;
  SmallVector<int64_t> shape(weightShape);
  switch (getGranularity()) {
  case QuantGranularity::tensor:
    std::fill(shape.begin(), shape.end(), 1);
    break;
  case QuantGranularity::channel:
    shape.back() = 1;
    break;
  case QuantGranularity::group:
  case QuantGranularity::block:
    if (ShapedType::isDynamic(shape.back()) || shape.back() % getGroup() != 0)
      return std::nullopt;
    shape.back() /= getGroup();
    break;
  }
  return shape;
}

double QuantAttr::getBitsPerWeight() const {
  switch (getScheme()) {
  case QuantScheme::gguf_q8_0: // 32 x int8 + f16 scale
    return (32 * 8 + 16) / 32.0;
  case QuantScheme::gguf_q4_0: // 32 x int4 + f16 scale
    return (32 * 4 + 16) / 32.0;
  case QuantScheme::gguf_q4_1: // 32 x int4 + f16 scale + f16 min
    return (32 * 4 + 32) / 32.0;
  case QuantScheme::gqsa_q4_0_s50: // half the q4_0 blocks + a u16 index each
    return (32 * 4 + 16 + 16) / 64.0;
  case QuantScheme::dgq_a8w4: // int4 + a u8 per group (+ f32 per row)
    return 4.0 + 8.0 / getGroup();
  // Block bytes * 8 / elements (ggml-common.h).
  case QuantScheme::gguf_q5_0: return 22 * 8 / 32.0;
  case QuantScheme::gguf_q5_1: return 24 * 8 / 32.0;
  case QuantScheme::gguf_iq4_nl: return 18 * 8 / 32.0;
  case QuantScheme::gguf_q2_k: return 84 * 8 / 256.0;
  case QuantScheme::gguf_q3_k: return 110 * 8 / 256.0;
  case QuantScheme::gguf_q4_k: return 144 * 8 / 256.0;
  case QuantScheme::gguf_q5_k: return 176 * 8 / 256.0;
  case QuantScheme::gguf_q6_k: return 210 * 8 / 256.0;
  case QuantScheme::symmetric:
  case QuantScheme::asymmetric:
    break;
  }
  double bits = getBits();
  if (getGranularity() == QuantGranularity::group) {
    // One f16 scale (and f16 zero point) per group.
    bits += (hasZeroPoints() ? 32.0 : 16.0) / getGroup();
  }
  return bits;
}

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t bits, int64_t group,
                                QuantScheme scheme,
                                QuantGranularity granularity) {
  if (bits < 2 || bits > 8)
    return emitError() << "quant bits must be in [2, 8], got " << bits;
  if (group < 0)
    return emitError() << "quant group must be non-negative, got " << group;
  std::optional<std::pair<int64_t, int64_t>> packed = packTimeFormat(scheme);
  bool block = scheme == QuantScheme::gguf_q8_0 ||
               scheme == QuantScheme::gguf_q4_0 ||
               scheme == QuantScheme::gguf_q4_1 ||
               scheme == QuantScheme::gqsa_q4_0_s50 ||
               scheme == QuantScheme::dgq_a8w4 || packed;
  if (block != (granularity == QuantGranularity::block))
    return emitError() << "quant granularity 'block' goes with the GGUF "
                          "block schemes only (scheme "
                       << stringifyQuantScheme(scheme) << ", granularity "
                       << stringifyQuantGranularity(granularity) << ")";
  if (scheme == QuantScheme::dgq_a8w4) {
    if (bits != 4 || group < 32 || group % 32 != 0)
      return emitError() << "scheme dgq_a8w4 requires bits = 4 and a group "
                            "that is a multiple of 32, got bits = "
                         << bits << " and group = " << group;
    return success();
  }
  if (packed) {
    if (bits != packed->first || group != packed->second)
      return emitError() << "scheme " << stringifyQuantScheme(scheme)
                         << " requires bits = " << packed->first
                         << " and group = " << packed->second
                         << ", got bits = " << bits << " and group = " << group;
    return success();
  }
  if (block) {
    int64_t wantBits = scheme == QuantScheme::gguf_q8_0 ? 8 : 4;
    if (bits != wantBits || group != 32)
      return emitError() << "scheme " << stringifyQuantScheme(scheme)
                         << " requires bits = " << wantBits
                         << " and group = 32, got bits = " << bits
                         << " and group = " << group;
    return success();
  }
  if (granularity == QuantGranularity::group) {
    if (group < 2)
      return emitError() << "quant granularity 'group' requires group >= 2, "
                            "got "
                         << group;
  } else if (group != 0) {
    return emitError() << "quant granularity '"
                       << stringifyQuantGranularity(granularity)
                       << "' requires group = 0, got " << group;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// PlacementAttr
//===----------------------------------------------------------------------===//

// #llm.placement<[device, host, storage, ...]>
Attribute PlacementAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<PlacementTier> tiers;
  auto parseTier = [&]() -> ParseResult {
    StringRef name;
    SMLoc tierLoc = parser.getCurrentLocation();
    if (parser.parseKeyword(&name))
      return failure();
    std::optional<PlacementTier> tier = symbolizePlacementTier(name);
    if (!tier)
      return parser.emitError(tierLoc, "unknown placement tier '")
             << name << "' (expected device, host or storage)";
    tiers.push_back(*tier);
    return success();
  };
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseTier) ||
      parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), tiers);
}

void PlacementAttr::print(AsmPrinter &printer) const {
  printer << "<[";
  llvm::interleaveComma(getTiers(), printer, [&](PlacementTier tier) {
    printer << stringifyPlacementTier(tier);
  });
  printer << "]>";
}

LogicalResult
PlacementAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      ArrayRef<PlacementTier> tiers) {
  if (tiers.empty())
    return emitError() << "placement needs one tier per expert, got none";
  return success();
}

//===----------------------------------------------------------------------===//
// RopeScalingAttr
//===----------------------------------------------------------------------===//

// #llm.rope_scaling<linear, factor = F>
// #llm.rope_scaling<llama3, factor = F, low_freq_factor = L,
//                   high_freq_factor = H, original_max_positions = N>
// #llm.rope_scaling<longrope, factor = F, original_max_positions = N,
//                   attention_factor = A, short_factor = [..],
//                   long_factor = [..]>
Attribute RopeScalingAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef kindName;
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<RopeScalingKind> kind = symbolizeRopeScalingKind(kindName);
  if (!kind) {
    parser.emitError(loc, "unknown rope scaling '")
        << kindName << "' (expected linear, llama3, longrope or yarn)";
    return {};
  }
  double factor = 0, low = 0, high = 0, attention = 1.0, betaFast = 0,
         betaSlow = 0;
  int64_t original = 0;
  SmallVector<double> shortFactor, longFactor;
  auto parseList = [&](SmallVector<double> &out) {
    return parser.parseCommaSeparatedList(
        AsmParser::Delimiter::Square,
        [&] { return parser.parseFloat(out.emplace_back()); });
  };
  llvm::StringSet<> seen;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    SMLoc keyLoc = parser.getCurrentLocation();
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (!seen.insert(key).second) {
      parser.emitError(keyLoc, "duplicate rope scaling parameter '")
          << key << "'";
      return {};
    }
    ParseResult r = failure();
    if (key == "factor")
      r = parser.parseFloat(factor);
    else if (key == "low_freq_factor")
      r = parser.parseFloat(low);
    else if (key == "high_freq_factor")
      r = parser.parseFloat(high);
    else if (key == "original_max_positions")
      r = parser.parseInteger(original);
    else if (key == "attention_factor")
      r = parser.parseFloat(attention);
    else if (key == "beta_fast")
      r = parser.parseFloat(betaFast);
    else if (key == "beta_slow")
      r = parser.parseFloat(betaSlow);
    else if (key == "short_factor")
      r = parseList(shortFactor);
    else if (key == "long_factor")
      r = parseList(longFactor);
    else
      parser.emitError(keyLoc, "unknown rope scaling parameter '")
          << key << "'";
    if (failed(r))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), *kind, APFloat(factor), APFloat(low),
                    APFloat(high), original,
                    shortFactor.empty()
                        ? DenseF64ArrayAttr()
                        : DenseF64ArrayAttr::get(parser.getContext(), shortFactor),
                    longFactor.empty()
                        ? DenseF64ArrayAttr()
                        : DenseF64ArrayAttr::get(parser.getContext(), longFactor),
                    APFloat(attention), APFloat(betaFast), APFloat(betaSlow));
}

void RopeScalingAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyRopeScalingKind(getKind()) << ", factor = ";
  printer.printFloat(getFactor());
  if (getKind() == RopeScalingKind::llama3) {
    printer << ", low_freq_factor = ";
    printer.printFloat(getLowFreqFactor());
    printer << ", high_freq_factor = ";
    printer.printFloat(getHighFreqFactor());
    printer
            << ", original_max_positions = " << getOriginalMaxPositions();
  }
  if (getKind() == RopeScalingKind::yarn) {
    printer << ", original_max_positions = " << getOriginalMaxPositions()
            << ", attention_factor = ";
    printer.printFloat(getAttentionFactor());
    printer << ", beta_fast = ";
    printer.printFloat(getBetaFast());
    printer << ", beta_slow = ";
    printer.printFloat(getBetaSlow());
  }
  if (getKind() == RopeScalingKind::longrope) {
    printer << ", original_max_positions = " << getOriginalMaxPositions()
            << ", attention_factor = ";
    printer.printFloat(getAttentionFactor());
    auto list = [&](ArrayRef<double> v) {
      printer << "[";
      llvm::interleaveComma(v, printer, [&](double d) {
        printer.printFloat(APFloat(d));
      });
      printer << "]";
    };
    printer << ", short_factor = ";
    list(getShortFactor());
    printer << ", long_factor = ";
    list(getLongFactor());
  }
  printer << ">";
}

LogicalResult
RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        RopeScalingKind kind, APFloat factorAP,
                        APFloat lowAP, APFloat highAP, int64_t original,
                        DenseF64ArrayAttr shortAttr,
                        DenseF64ArrayAttr longAttr, APFloat attentionAP,
                        APFloat betaFastAP, APFloat betaSlowAP) {
  ArrayRef<double> shortFactor =
      shortAttr ? shortAttr.asArrayRef() : ArrayRef<double>();
  ArrayRef<double> longFactor =
      longAttr ? longAttr.asArrayRef() : ArrayRef<double>();
  double factor = factorAP.convertToDouble();
  double low = lowAP.convertToDouble(), high = highAP.convertToDouble();
  if (!(factor > 0))
    return emitError() << "rope scaling factor must be positive, got "
                       << formatNumber(factor);
  bool longrope = kind == RopeScalingKind::longrope;
  bool yarn = kind == RopeScalingKind::yarn;
  double betaFast = betaFastAP.convertToDouble(),
         betaSlow = betaSlowAP.convertToDouble();
  if (!longrope && (!shortFactor.empty() || !longFactor.empty()))
    return emitError() << "short_factor and long_factor belong to longrope "
                          "scaling";
  if (!longrope && !yarn && attentionAP.convertToDouble() != 1.0)
    return emitError() << "attention_factor belongs to longrope and yarn "
                          "scaling";
  if (!yarn && (betaFast != 0 || betaSlow != 0))
    return emitError() << "beta_fast and beta_slow belong to yarn scaling";
  if (kind == RopeScalingKind::linear) {
    if (low != 0 || high != 0 || original != 0)
      return emitError() << "linear rope scaling takes only 'factor'";
    return success();
  }
  if (original <= 0)
    return emitError() << stringifyRopeScalingKind(kind)
                       << " rope scaling requires "
                          "original_max_positions > 0, got "
                       << original;
  if (longrope || yarn) {
    double a = attentionAP.convertToDouble();
    if (!(a > 0) || !std::isfinite(a))
      return emitError() << "attention_factor must be positive, got "
                         << formatNumber(a);
  }
  if (yarn) {
    if (low != 0 || high != 0)
      return emitError() << "yarn rope scaling takes beta_fast and beta_slow, "
                            "not low/high_freq_factor";
    if (!(betaFast > betaSlow) || !(betaSlow > 0))
      return emitError() << "yarn rope scaling requires beta_fast > "
                            "beta_slow > 0, got "
                         << formatNumber(betaFast) << " and "
                         << formatNumber(betaSlow);
    return success();
  }
  if (longrope) {
    if (shortFactor.empty() || shortFactor.size() != longFactor.size())
      return emitError() << "longrope needs short_factor and long_factor "
                            "lists of one length (head_dim / 2), got "
                         << shortFactor.size() << " and " << longFactor.size();
    for (double f : llvm::concat<const double>(shortFactor, longFactor))
      if (!(f > 0) || !std::isfinite(f))
        return emitError() << "longrope factors must be positive, got "
                           << formatNumber(f);
    return success();
  }
  if (!(low > 0) || !(high > low))
    return emitError() << "llama3 rope scaling requires 0 < low_freq_factor "
                          "< high_freq_factor, got "
                       << formatNumber(low) << " and " << formatNumber(high);
  return success();
}
