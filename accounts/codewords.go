package accounts

import "strings"

// codeWords are the words of "phrase" one-time codes: 411 short, common,
// distinct English words, so that four of them carry about 34 bits.
var codeWords = strings.Fields(
	"able acid aged also area army away baby back ball band bank base bath bean bear beat bell belt " +
		"best bird blow blue boat body bone book boot born boss both bowl bulk burn bush busy cake calm " +
		"camp card care cart case cash cast cell chat chip city clay club coal coat code cold cook cool " +
		"cope copy core corn cost crew crop dark data date dawn deal dear deck deep deer desk dish dock " +
		"door dose down draw drop drum duck dust duty each earn east easy edge else even ever exit face " +
		"fact fair fall farm fast fear feed feel file fill film fine fire firm fish five flag flat flow " +
		"folk food foot fork form fort four free frog fuel full fund gain game gate gear gift girl give " +
		"glad glow goal gold golf good gray grow hair half hall hand hard harm hawk head heat help herb " +
		"hero high hill hint hold hole home hook hope horn host hour huge idea inch iron item jazz join " +
		"joke jump jury keen keep kind king kite knee knot lake lamp land lane last late lawn lead leaf " +
		"left lens lift like lime line lion list live load loan lock long loop lord love luck lung main " +
		"make mall many mark mask mass meal meat menu mild mile milk mind mint miss mode mood moon more " +
		"most move much nail name navy near neck need nest news next nice nine node none noon norm nose " +
		"note oak oath ocean odd once open oven pack page pain pair palm park part pass past path peak " +
		"pear pick pine pink pipe plan play plot plug plus poem pole pond pool port pose post pure push " +
		"quiz race rain rank rare rate read real reef rest rice rich ride ring rise risk road rock roof " +
		"room root rope rose ruby rule safe sail salt sand save seal seat seed self send ship shoe shop " +
		"show side sign silk sing site size skin slow snow soap sock soft soil song soup spin spot star " +
		"stay step stop such suit sure swim tail tale talk tall tank tape task team tent term test text " +
		"tide tile time tiny tone tool tour town tree trip tube tune turn twin type unit upon vast verb " +
		"very view vote wage wait walk wall warm wave wear week well west wide wild wind wine wing wire " +
		"wise wish wolf wood wool word work yard year yoga zero zone")
